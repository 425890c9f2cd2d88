from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.history_embeddings import recency_weights
from core.online_store import UserProfile
from core.settings import Settings
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.models.item_bag_files import INPUTS_FILE, ITEMS_FILE, PARAMS_FILE, BagParams
from recall_service.registry import recall_model
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
    affinity = users.affinity(vector, [2, 5, 99])
    assert affinity is not None
    assert affinity[0] == pytest.approx(2**-0.5)
    assert affinity[1:] == [0.0, None]


def test_no_known_history_gives_no_vector(tmp_path: Path) -> None:
    users = _bag(tmp_path, cap=200)
    assert users.vector(None) is None
    assert users.vector(None, [99]) is None
