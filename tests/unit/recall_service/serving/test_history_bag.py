from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.history_embeddings import recency_weights
from core.online_store import UserProfile
from core.settings import Settings
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
from recall_service.registry import recall_model
from recall_service.serving.history_bag import blend_affinity
from recall_service.serving.user_vectors import UserVectors

ITEMS = np.arange(1, 13)


def _bag(folder: Path, cap: int, half_life: float = 1e9) -> UserVectors:
    # Item i's input and output vectors are the basis vector of column i - 1, so a user vector
    # shows its items and an item's affinity is that item's share of it.
    np.save(folder / INPUTS_FILE, np.eye(12, dtype=np.float32))
    np.save(folder / ITEMS_FILE, ITEMS)
    np.save(folder / VECTORS, np.eye(12, dtype=np.float32))
    np.save(folder / ITEM_IDS, ITEMS)
    params = BagParams(num_items=12, dim=12, temperature=0.1, history_cap=cap)
    (folder / PARAMS_FILE).write_text(params.model_dump_json())
    settings = Settings(item_bag={"history_half_life": half_life})
    return recall_model("item_bag").user_vectors(folder, None, settings)  # type: ignore[arg-type]


def test_user_vector_uses_the_whole_history_not_only_the_profiles_recent_items(
    tmp_path: Path,
) -> None:
    users = _bag(tmp_path, cap=200)
    profile = UserProfile(user_id=1, user_recent_items=[1, 2])
    vector = users.vector(profile, [8, 7, 6, 5, 99, 4, 3, 2, 1])
    assert vector is not None
    assert np.count_nonzero(vector) == 8  # item 99 has no embedding
    assert np.allclose(np.linalg.norm(vector), 1.0)


def test_only_the_newest_items_under_the_cap_count(tmp_path: Path) -> None:
    users = _bag(tmp_path, cap=2)
    vector = users.vector(None, [9, 1, 2])
    assert vector is not None
    assert np.flatnonzero(vector).tolist() == [0, 8]  # items 9 and 1


def test_newer_items_weigh_more_halving_every_half_life(tmp_path: Path) -> None:
    users = _bag(tmp_path, cap=200, half_life=2.0)
    vector = users.vector(None, [3, 2, 1])
    assert vector is not None
    weights = vector[[2, 1, 0]] / vector[2]
    assert weights == pytest.approx(recency_weights(3, 2.0))
    assert weights == pytest.approx([1.0, 0.5**0.5, 0.5])


def test_affinity_scores_every_candidate_and_none_for_unknown_items(tmp_path: Path) -> None:
    users = _bag(tmp_path, cap=200)
    vector = users.vector(None, [1, 2])
    assert vector is not None
    affinity = users.affinity(vector, [1, 2], [2, 5, 99])
    assert affinity is not None
    assert affinity[0] == pytest.approx(2**-0.5)
    assert affinity[1:] == [0.0, None]


def test_no_known_history_gives_no_vector(tmp_path: Path) -> None:
    users = _bag(tmp_path, cap=200)
    assert users.vector(None) is None
    assert users.vector(None, [99]) is None


def _with_item_cf(folder: Path) -> UserVectors:
    # Bag rows are items 1..12; item 1 speaks for items 5 (0.2) and 6 (0.1), item 2 for 5
    # (0.1) and against 7 (-0.3).
    ItemCFWeights(
        indptr=np.array([0, 2, 4, *[4] * 10]),
        indices=np.array([4, 5, 4, 6]),
        weights=np.array([0.2, 0.1, 0.1, -0.3], dtype=np.float32),
    ).save(folder / ITEM_CF_FILE)
    return _bag(folder, cap=200)


def test_the_item_cf_route_proposes_what_the_history_speaks_for_unseen_items_only(
    tmp_path: Path,
) -> None:
    users = _with_item_cf(tmp_path)
    found = users.collaborative([1, 2], 10, exclude={1, 2})
    assert [item for item, _ in found] == [5, 6, 7]
    # Scores come over their spread across the catalogue.
    spread = np.std([0.3, 0.1, -0.3, *[0.0] * 9])
    assert [score for _, score in found] == pytest.approx(
        [0.3 / spread, 0.1 / spread, -0.3 / spread]
    )
    assert [item for item, _ in users.collaborative([1, 2], 10, exclude={1, 2, 5})] == [6, 7]
    assert [item for item, _ in users.collaborative([1, 2], 1, exclude=set())] == [5]
    # Another history right after is scored afresh, not with the last one's scores.
    again = users.collaborative([2], 10, exclude=set())
    assert [item for item, _ in again] == [5, 7]
    assert again[0][1] / again[1][1] == pytest.approx(-1 / 3)
    # A version trained without item-CF weights proposes nothing and scores by the cosine.
    (tmp_path / "old").mkdir()
    old = _bag(tmp_path / "old", cap=200)
    assert old.collaborative([1, 2], 10, exclude=set()) == []
    vector = old.vector(None, [1, 2])
    assert vector is not None
    assert old.affinity(vector, [1, 2], [1, 5]) == [pytest.approx(2**-0.5), 0.0]


def test_affinity_blends_the_cosine_and_item_cf_alike_on_the_cosines_scale(
    tmp_path: Path,
) -> None:
    users = _with_item_cf(tmp_path)
    history = [1, 2]
    vector = users.vector(None, history)
    assert vector is not None
    cosines = [2**-0.5, 0.0, 0.0, 0.0]
    cf = [0.0, 0.3, 0.1, -0.3]
    affinity = users.affinity(vector, history, [1, 5, 6, 7, 99])
    assert affinity[4] is None
    scale = np.std(cosines) / np.std(cf)
    assert affinity[:4] == pytest.approx([c + scale * f for c, f in zip(cosines, cf, strict=True)])
    # Item 5, which only item CF knows the user for, comes right after the item they rated.
    assert np.argsort(-np.array(affinity[:4])).tolist() == [0, 1, 2, 3]


def test_the_item_cf_weight_scales_its_share_of_the_affinity() -> None:
    cosines: list[float | None] = [0.7, 0.0, 0.0, None]
    cf: list[float | None] = [0.0, 0.3, -0.3, 0.2]
    scale = np.std([0.7, 0.0, 0.0]) / np.std([0.0, 0.3, -0.3])
    assert blend_affinity(cosines, cf, weight=0.0) == [0.7, 0.0, 0.0, None]
    doubled = blend_affinity(cosines, cf, weight=2.0)
    assert doubled[:3] == pytest.approx([0.7, 0.6 * scale, -0.6 * scale]) and doubled[3] is None


def _with_transitions(folder: Path, transition_weight: float) -> UserVectors:
    # EASE: item 1 speaks for 5 and 6 alike. Transitions: users went from item 2 on to 6, and
    # from item 1 on to 7.
    ItemCFWeights(
        indptr=np.array([0, 2, *[2] * 11]),
        indices=np.array([4, 5]),
        weights=np.array([0.2, 0.2], dtype=np.float32),
    ).save(folder / ITEM_CF_FILE)
    ItemCFWeights(
        indptr=np.array([0, 1, 2, *[2] * 10]),
        indices=np.array([6, 5]),
        weights=np.array([0.4, 0.4], dtype=np.float32),
    ).save(folder / TRANSITIONS_FILE)
    np.save(folder / INPUTS_FILE, np.eye(12, dtype=np.float32))
    np.save(folder / ITEMS_FILE, ITEMS)
    np.save(folder / VECTORS, np.eye(12, dtype=np.float32))
    np.save(folder / ITEM_IDS, ITEMS)
    params = BagParams(num_items=12, dim=12, temperature=0.1, history_cap=200)
    (folder / PARAMS_FILE).write_text(params.model_dump_json())
    settings = Settings(
        item_bag={"transition_weight": transition_weight, "transition_half_life": 1.0}
    )
    return recall_model("item_bag").user_vectors(folder, None, settings)  # type: ignore[arg-type]


def test_transitions_put_what_users_go_on_to_after_the_newest_item_first(tmp_path: Path) -> None:
    users = _with_transitions(tmp_path, transition_weight=0.5)
    # Item 2 is the newest: its follower 6 leads; item 1's follower 7 counts half as much.
    found = users.collaborative([2, 1], 10, exclude={1, 2})
    assert [item for item, _ in found] == [6, 5, 7]
    vector = users.vector(None, [2, 1])
    assert vector is not None
    # The pool holds a history item, so that the cosines have a spread to scale to.
    affinity = users.affinity(vector, [2, 1], [2, 5, 6, 7])
    assert affinity[2] > affinity[1] > affinity[3]
    # Weight 0: EASE alone, which cannot tell 5 from 6.
    (tmp_path / "off").mkdir()
    off = _with_transitions(tmp_path / "off", transition_weight=0.0)
    scores = dict(off.collaborative([2, 1], 10, exclude={1, 2}))
    assert set(scores) == {5, 6} and scores[5] == pytest.approx(scores[6])
