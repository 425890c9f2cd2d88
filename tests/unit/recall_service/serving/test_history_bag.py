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
    assert found[0][1] == pytest.approx(0.3)
    assert users.collaborative([1, 2], 10, exclude={1, 2, 5}) == [
        (6, pytest.approx(0.1)),
        (7, pytest.approx(-0.3)),
    ]
    assert users.collaborative([1, 2], 1, exclude=set()) == [(5, pytest.approx(0.3))]
    # Another history right after is scored afresh, not with the last one's scores.
    assert users.collaborative([2], 10, exclude=set()) == [
        (5, pytest.approx(0.1)),
        (7, pytest.approx(-0.3)),
    ]
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
