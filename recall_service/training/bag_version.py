"""A registered item bag read back as weights, written as a version's files, and grown to new
items: what the online update fine-tunes from and publishes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.history_embeddings import unit_rows
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.models.item_bag_files import (
    INPUTS_FILE,
    ITEM_CF_FILE,
    ITEMS_FILE,
    PARAMS_FILE,
    TRANSITIONS_FILE,
    BagParams,
)
from recall_service.models.item_cf import ItemCFWeights

# The manifest param that holds the newest event time (ms) a version learnt from: what is newer
# is what the online update fine-tunes on and judges with.
TRAINED_UNTIL = "trained_until_ms"


@dataclass(frozen=True)
class BagVersion:
    """An item bag's items (V,) sorted, input embeddings E (V, D), unit output vectors F (V, D)
    (the index's vectors), its constructor arguments, and the item-CF weights and transitions
    kept beside it (rows in the same order; None where the version has none)."""

    item_ids: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray
    params: BagParams
    item_cf: ItemCFWeights | None
    transitions: ItemCFWeights | None

    @classmethod
    def load(cls, folder: Path) -> BagVersion:
        """From an item_bag version folder of the registry."""
        item_ids = np.load(folder / ITEMS_FILE)
        if not np.array_equal(np.load(folder / ITEM_IDS), item_ids):
            raise ValueError(f"{folder}: the index's items are not the bag's items")
        item_cf, transitions = (
            ItemCFWeights.load(folder / name) if (folder / name).exists() else None
            for name in (ITEM_CF_FILE, TRANSITIONS_FILE)
        )
        return cls(
            item_ids=item_ids,
            inputs=np.load(folder / INPUTS_FILE),
            outputs=unit_rows(np.load(folder / VECTORS)),
            params=BagParams.model_validate_json((folder / PARAMS_FILE).read_text()),
            item_cf=item_cf,
            transitions=transitions,
        )

    def write_files(self, folder: Path) -> None:
        """The files serving reads beside the index (which `publish_item_vectors` writes)."""
        np.save(folder / INPUTS_FILE, self.inputs)
        np.save(folder / ITEMS_FILE, self.item_ids)
        (folder / PARAMS_FILE).write_text(self.params.model_dump_json())
        if self.item_cf is not None:
            self.item_cf.save(folder / ITEM_CF_FILE)
        if self.transitions is not None:
            self.transitions.save(folder / TRANSITIONS_FILE)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """ItemBag's weights: E with its zero padding row, and F. F's rows are unit length
        (their norms were not kept), which changes no score: ItemBag compares by cosine."""
        padding = np.zeros((1, self.inputs.shape[1]), dtype=np.float32)
        return {
            "inputs.weight": torch.as_tensor(np.concatenate([self.inputs, padding])).float(),
            "outputs.weight": torch.as_tensor(self.outputs).float(),
        }

    def with_weights(self, inputs: np.ndarray, outputs: np.ndarray) -> BagVersion:
        """The same version with new E (V, D) and F (V, D), F scaled to unit rows."""
        return replace(self, inputs=inputs, outputs=unit_rows(outputs))


def reindexed(weights: ItemCFWeights, old_to_new: np.ndarray, num_items: int) -> ItemCFWeights:
    """`weights` over a vocabulary grown to `num_items` rows, old row r now at row
    `old_to_new[r]` (increasing, as a sorted vocabulary's rows stay in order); new rows are
    empty, and every old row keeps its weights towards the same items."""
    lengths = np.zeros(num_items, dtype=np.int64)
    lengths[old_to_new] = np.diff(weights.indptr)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return ItemCFWeights(
        indptr=indptr, indices=old_to_new[weights.indices], weights=weights.weights.copy()
    )


def grow(version: BagVersion, items: np.ndarray) -> BagVersion:
    """`version` with a row for every id of `items` it lacks. Known ids keep their input and
    output vectors exactly (at their row in the grown, still sorted, vocabulary); a new row
    starts as the mean of the known rows (a typical item, which fine-tuning moves), and has no
    item-CF weights or transitions until the next full training fits them."""
    item_ids = np.union1d(version.item_ids, np.asarray(items, dtype=np.int64))
    if len(item_ids) == len(version.item_ids):
        return version
    old_to_new = np.searchsorted(item_ids, version.item_ids)
    inputs = np.empty((len(item_ids), version.inputs.shape[1]), dtype=np.float32)
    outputs = np.empty_like(inputs)
    inputs[:] = version.inputs.mean(0)
    outputs[:] = unit_rows(version.outputs.mean(0))
    inputs[old_to_new] = version.inputs
    outputs[old_to_new] = version.outputs
    return BagVersion(
        item_ids=item_ids,
        inputs=inputs,
        outputs=outputs,
        params=version.params.model_copy(update={"num_items": len(item_ids)}),
        item_cf=version.item_cf and reindexed(version.item_cf, old_to_new, len(item_ids)),
        transitions=version.transitions
        and reindexed(version.transitions, old_to_new, len(item_ids)),
    )
