from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.tables import SEQUENCES
from recall_service.training.sequences import ItemSequences, read_sequences
from recall_service.training.vocab import UNKNOWN, ItemVocab


def test_read_sequences_skips_the_manifest_and_reads_missing_lists_as_empty(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "sequences"
    folder.mkdir()
    pq.write_table(
        pa.table({"user_id": [1, 2], "items": [[10, 20, 30], None]}, schema=SEQUENCES),
        folder / "part-0.parquet",
    )
    pq.write_table(
        pa.table({"user_id": [3], "items": [[40]]}, schema=SEQUENCES), folder / "part-1.parquet"
    )
    (folder / "_manifest.json").write_text("{}")

    sequences = read_sequences(folder)

    by_user = {
        int(user): sequences.sequence(u).tolist() for u, user in enumerate(sequences.user_ids)
    }
    assert by_user == {1: [10, 20, 30], 2: [], 3: [40]}


def test_hold_out_last_takes_the_last_item_of_sequences_with_two_or_more() -> None:
    sequences = ItemSequences.from_lists([1, 2, 3], [[10, 20, 30], [40], [50, 60]])

    train, users, targets = sequences.hold_out_last()

    assert [train.sequence(u).tolist() for u in range(3)] == [[10, 20], [40], [50]]
    assert users.tolist() == [0, 2]
    assert targets.tolist() == [30, 60]


def test_vocab_encodes_known_items_to_rows_and_unknown_ones_to_a_marker() -> None:
    vocab = ItemVocab.from_items(np.array([30, 10, 30, 20, 30]))

    assert vocab.item_ids.tolist() == [10, 20, 30]
    assert vocab.counts.tolist() == [1, 1, 3]
    assert vocab.encode(np.array([20, 99, 10, 5])).tolist() == [1, UNKNOWN, 0, UNKNOWN]
