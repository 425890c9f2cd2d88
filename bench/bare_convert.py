"""The I/O floor of ingest: ratings.csv to one Parquet file with pyarrow, nothing else.

Usage: python bench/bare_convert.py RATINGS_CSV OUT_PARQUET
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.csv as csv
import pyarrow.parquet as pq


def convert(source: Path, target: Path) -> int:
    """Write `source` as Parquet to `target`; returns the row count."""
    table = csv.read_csv(source)
    pq.write_table(table, target)
    return table.num_rows


if __name__ == "__main__":
    rows = convert(Path(sys.argv[1]), Path(sys.argv[2]))
    sys.stdout.write(f"{rows} rows\n")
