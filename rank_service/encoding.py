"""FeatureEncoder: turns sample rows into the tensors a ranking model reads.

Fitted once on the train samples (vocabularies and numeric statistics), saved as JSON next to the
model, and used unchanged by training workers and serving replicas so that both see the same
inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch
from pydantic import BaseModel, ConfigDict

from core.feature_schema import (
    FIXED_VOCABS,
    RANK_FEATURES,
    CategoricalFeature,
    FeatureSchema,
    NumericFeature,
)
from core.tables import SAMPLES

ENCODER_FILE = "encoder.json"
NUMERIC = "numeric"
LABEL = "label"
# A standard deviation this small means a constant column; dividing by it would blow up noise.
_MIN_STD = 1e-6
# Up to this many values a lookup goes through a dict; above it through pandas' hash index.
SMALL_LOOKUP = 32


class EncoderState(BaseModel):
    """Everything an encoder learnt from the train samples; its JSON form."""

    model_config = ConfigDict(frozen=True)

    schema_hash: str
    items: list[int]
    users: list[int]
    genres: list[str]
    means: dict[str, float]
    stds: dict[str, float]


class FeatureEncoder:
    """Maps ids to embedding indices (0 = unknown or padding) and standardises numerics.

    `encode` returns one tensor per categorical feature of the schema, named like the column:
    int64 (B,) for an id column, int64 (B, length) for a list column (truncated, 0-padded), plus
    `numeric`: float32 (B, N) with N = number of numeric features, and `label`: float32 (B,) when
    the input has a label column.
    """

    def __init__(self, state: EncoderState, schema: FeatureSchema = RANK_FEATURES) -> None:
        if state.schema_hash != schema.hash():
            raise ValueError(
                f"encoder was fitted for feature schema {state.schema_hash}, "
                f"not for the current {schema.hash()}"
            )
        self.state = state
        self.schema = schema
        self._vocab: dict[str, pa.Array] = {
            "item": pa.array(state.items, type=pa.int64()),
            "user": pa.array(state.users, type=pa.int64()),
            "genre": pa.array(state.genres, type=pa.string()),
            **{v: pa.array(range(size), type=pa.int64()) for v, size in FIXED_VOCABS.items()},
        }
        # Hashed once: pc.index_in hashes its whole value set on every call, which made
        # encoding one serving request's rows cost about a millisecond.
        self._positions = {
            name: pd.Index(vocab.to_numpy(zero_copy_only=False))
            for name, vocab in self._vocab.items()
        }
        # pandas' get_indexer costs ~0.1 ms however few the values; a serving request encodes
        # one user row (five lookups), which this dict answers in microseconds.
        self._small_lookup = {
            name: {value: position + 1 for position, value in enumerate(vocab.to_pylist())}
            for name, vocab in self._vocab.items()
        }

    @classmethod
    def fit(cls, table: pa.Table, schema: FeatureSchema = RANK_FEATURES) -> FeatureEncoder:
        """Learn vocabularies (all but FIXED_VOCABS) and numeric statistics from train samples."""
        values = _vocab_values(table, schema)
        means: dict[str, float] = {}
        stds: dict[str, float] = {}
        for feature in schema.numeric:
            raw = _numeric_values(table.column(feature.name), feature)
            means[feature.name] = float(raw.mean()) if raw.size else 0.0
            stds[feature.name] = float(raw.std()) if raw.size else 1.0
        state = EncoderState(
            schema_hash=schema.hash(),
            items=sorted(values["item"]),
            users=sorted(values["user"]),
            genres=sorted(values["genre"]),
            means=means,
            stds=stds,
        )
        return cls(state, schema)

    def grow(self, table: pa.Table) -> FeatureEncoder:
        """This encoder with the ids and genres of `table` it does not know appended (sorted
        among themselves) after the ones it knows, which keep their indices: a model's embedding
        rows for them stay valid, and the new ones get rows of their own (`vocab_sizes` grows).
        Numeric statistics stay as fitted, so the model's inputs keep their scale."""
        found = _vocab_values(table, self.schema)
        known = {"item": self.state.items, "user": self.state.users, "genre": self.state.genres}
        grown = {
            vocab: [*old, *sorted(found[vocab].difference(old))] for vocab, old in known.items()
        }
        state = self.state.model_copy(
            update={"items": grown["item"], "users": grown["user"], "genres": grown["genre"]}
        )
        return FeatureEncoder(state, self.schema)

    def vocab_sizes(self) -> dict[str, int]:
        """Rows each embedding table needs, index 0 included."""
        return {name: len(vocab) + 1 for name, vocab in self._vocab.items()}

    def columns(self) -> list[str]:
        """The input columns `encode` reads."""
        return self.schema.columns()

    def encode(self, rows: pa.Table | pd.DataFrame) -> dict[str, torch.Tensor]:
        """Tensors for a batch of sample rows (see the class docstring for names and shapes)."""
        table = _as_table(rows, [*self.columns(), self.schema.label])
        present = set(table.column_names)
        missing = [name for name in self.columns() if name not in present]
        if missing:
            raise KeyError(f"rows lack ranking feature columns: {missing}")
        out: dict[str, torch.Tensor] = {}
        for feature in self.schema.categorical:
            out[feature.name] = torch.from_numpy(self._categorical(table, feature))
        numeric = np.zeros((table.num_rows, len(self.schema.numeric)), dtype=np.float32)
        for j, feature in enumerate(self.schema.numeric):
            raw = _numeric_values(table.column(feature.name), feature)
            std = self.state.stds[feature.name]
            numeric[:, j] = (raw - self.state.means[feature.name]) / max(std, _MIN_STD)
        out[NUMERIC] = torch.from_numpy(numeric)
        if self.schema.label in table.column_names:
            label = table.column(self.schema.label).cast(pa.float32()).fill_null(0.0)
            out[LABEL] = torch.from_numpy(label.to_numpy().copy())
        return out

    def _lookup(self, vocab: str, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Embedding indices of raw values: position in the vocabulary + 1, or 0 when unknown."""
        raw = values.cast(self._vocab[vocab].type).to_numpy(zero_copy_only=False)
        if len(raw) <= SMALL_LOOKUP:
            index = self._small_lookup[vocab]
            return np.fromiter((index.get(v, 0) for v in raw), dtype=np.int64, count=len(raw))
        return self._positions[vocab].get_indexer(raw).astype(np.int64) + 1

    def _categorical(self, table: pa.Table, feature: CategoricalFeature) -> np.ndarray:
        column = table.column(feature.name).combine_chunks()
        if feature.length == 1:
            return self._lookup(feature.vocab, column)
        out = np.zeros((table.num_rows, feature.length), dtype=np.int64)
        flat = pc.list_flatten(column)
        if len(flat) == 0:
            return out
        rows = pc.list_parent_indices(column).to_numpy()
        # Values come grouped by row in order, so a value's slot is its distance from the
        # first value of its row.
        _, first, counts = np.unique(rows, return_index=True, return_counts=True)
        slot = np.arange(len(flat)) - np.repeat(first, counts)
        keep = slot < feature.length
        out[rows[keep], slot[keep]] = self._lookup(feature.vocab, flat)[keep]
        return out

    def to_json(self) -> str:
        return self.state.model_dump_json()

    @classmethod
    def from_json(cls, text: str, schema: FeatureSchema = RANK_FEATURES) -> FeatureEncoder:
        return cls(EncoderState.model_validate_json(text), schema)

    def save(self, folder: Path) -> None:
        (folder / ENCODER_FILE).write_text(json.dumps(self.state.model_dump(), indent=1))

    @classmethod
    def load(cls, folder: Path, schema: FeatureSchema = RANK_FEATURES) -> FeatureEncoder:
        return cls.from_json((folder / ENCODER_FILE).read_text(), schema)


def _vocab_values(table: pa.Table, schema: FeatureSchema) -> dict[str, set[Any]]:
    """The distinct non-null values of every learnt vocabulary (all but FIXED_VOCABS)."""
    values: dict[str, set[Any]] = {"item": set(), "user": set(), "genre": set()}
    for feature in schema.categorical:
        if feature.vocab in FIXED_VOCABS:
            continue
        column = table.column(feature.name)
        if feature.length > 1:
            column = pc.list_flatten(column)
        values[feature.vocab].update(v for v in pc.unique(column).to_pylist() if v is not None)
    return values


def _numeric_values(column: pa.ChunkedArray | pa.Array, feature: NumericFeature) -> np.ndarray:
    """float64 values after the feature's transform; null counts as 0 (a user with no history)."""
    if len(column) <= SMALL_LOOKUP:
        # Arrow's cast and fill_null cost ~10 us each however few the values.
        values = np.array([0.0 if v is None else v for v in column.to_pylist()], dtype=np.float64)
    else:
        values = pc.cast(column, pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    values = np.nan_to_num(values, nan=0.0)
    if feature.transform == "log1p":
        # Counts are never negative; the clamp keeps a corrupt value from turning into NaN.
        values = np.log1p(np.maximum(values, 0.0))
    return values


def _as_table(rows: pa.Table | pd.DataFrame, wanted: list[str]) -> pa.Table:
    """The wanted columns present in `rows` as Arrow; pandas input gets the SAMPLES types."""
    if isinstance(rows, pa.Table):
        present = set(rows.column_names)
        return rows.select([name for name in wanted if name in present])
    # Explicit types: pandas batches hold lists as object arrays, whose inferred Arrow type is
    # wrong (or null) when a batch has only empty lists.
    fields = [SAMPLES.field(name) for name in wanted if name in rows.columns]
    schema = pa.schema([pa.field(f.name, f.type) for f in fields])
    return pa.Table.from_pandas(rows[schema.names], schema=schema, preserve_index=False)
