"""Event keys: stable across runs and versions, distinct for distinct events."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from core.event_key import content_keys, text_key, text_keys

RATED_AT = 964982703000


def test_keys_are_pinned_so_a_reingest_finds_the_events_it_landed_before() -> None:
    # Changing either hash would make every event already in a lake look new on re-ingest.
    assert text_key("evt-0123") == -7092749164079177441
    one = [np.array([v]) for v in (1, 10, RATED_AT)]
    assert content_keys(pa.array(["rating"]), *one)[0] == 9176305305324464846
    tagged = content_keys(pa.array(["tag"]), *one, tag=pa.array(["funny"]))
    assert tagged[0] == 3372874937441361457


def test_text_keys_do_not_depend_on_the_other_ids_in_the_batch() -> None:
    alone = [text_key(name) for name in ("a", "b", "a")]
    assert list(text_keys(["a", "b", "a"])) == alone
    assert alone[0] != alone[1]


def test_events_differing_in_one_field_never_share_a_key() -> None:
    grid = np.arange(200, dtype=np.int64)
    base = np.zeros(200, dtype=np.int64)
    kinds = pa.array(["rating"] * 200)
    keys = np.concatenate(
        [
            content_keys(kinds, grid, base, base),
            content_keys(kinds, base, grid, base),
            content_keys(kinds, base, base, grid),
            content_keys(pa.array(["click"] * 200), grid, base, base),
        ]
    )
    # Row 0 of the first three blocks is the same event (all fields zero).
    assert len(np.unique(keys)) == len(keys) - 2


def test_a_million_distinct_ratings_get_a_million_keys() -> None:
    rng = np.random.default_rng(3)
    n = 1_000_000
    user, item = rng.integers(0, 5000, n), rng.integers(0, 5000, n)
    ts = RATED_AT + rng.integers(0, 10**9, n)
    content = np.unique(np.stack([user, item, ts]), axis=1)
    keys = content_keys(pa.array(["rating"] * content.shape[1]), *content)
    assert len(np.unique(keys)) == content.shape[1]
