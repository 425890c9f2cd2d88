"""A Parquet event file as the text fields that validation reads."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.lake.chunks import Chunk
from ingest.lake.validate import REASON

_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def parquet_rows(chunk: Chunk) -> pa.Table:
    """The mapped columns of a Parquet file as text, rows numbered from 1 (read whole)."""
    spec = chunk.spec
    table = pq.read_table(spec.path, columns=sorted(set(spec.mapping.values())))
    columns: dict[str, pa.Array] = {}
    for field, column in spec.mapping.items():
        values = table[column]
        if pa.types.is_timestamp(values.type):
            # Stored times become numbers in the declared unit, like a numeric time column. Not
            # by a cast to the declared unit: it refuses to drop a fraction and to overflow (a
            # year 1000 in ns), either of which made the whole file unreadable.
            scale = _PER_SECOND[spec.ts_unit] / _PER_SECOND[values.type.unit]
            values = pc.multiply(values.cast(pa.int64()).cast(pa.float64()), scale)
        columns[field] = pc.cast(values, pa.string()).combine_chunks()
    raw = pc.binary_join_element_wise(
        *columns.values(), ",", null_handling="replace", null_replacement=""
    )
    return pa.table(
        {
            **columns,
            REASON: pa.nulls(table.num_rows, pa.string()),
            "line": pa.array(np.arange(1, table.num_rows + 1)),
            "raw": raw,
        }
    )
