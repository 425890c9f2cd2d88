from __future__ import annotations

from pathlib import Path

import numpy as np

from core.online_store import UserProfile
from recall_service.models.item_bag_files import INPUTS_FILE, ITEMS_FILE, PARAMS_FILE, BagParams
from recall_service.registry import recall_model

ITEMS = np.arange(1, 13)


def _version(folder: Path, cap: int) -> None:
    # Item i's input embedding is the basis vector of column i - 1, so a mean shows its items.
    np.save(folder / INPUTS_FILE, np.eye(12, dtype=np.float32))
    np.save(folder / ITEMS_FILE, ITEMS)
    params = BagParams(num_items=12, dim=12, temperature=0.1, history_cap=cap)
    (folder / PARAMS_FILE).write_text(params.model_dump_json())


def test_user_vector_uses_more_than_the_profiles_recent_items(tmp_path: Path) -> None:
    _version(tmp_path, cap=200)
    users = recall_model("item_bag").user_vectors(tmp_path, None, 5)  # type: ignore[arg-type]
    profile = UserProfile(user_id=1, user_recent_items=[1, 2, 3, 4, 5])
    vector = users.vector(profile, {1, 2, 3, 4, 5, 6, 7, 8, 99})
    assert vector is not None
    assert np.count_nonzero(vector) == 8  # item 99 has no embedding
    assert np.allclose(np.linalg.norm(vector), 1.0)


def test_recent_items_come_first_under_the_cap(tmp_path: Path) -> None:
    _version(tmp_path, cap=2)
    users = recall_model("item_bag").user_vectors(tmp_path, None, 5)  # type: ignore[arg-type]
    vector = users.vector(UserProfile(user_id=1, user_recent_items=[9]), {1, 2, 9})
    assert vector is not None
    assert np.flatnonzero(vector).tolist() == [0, 8]  # items 9 and then 1


def test_no_known_history_gives_no_vector(tmp_path: Path) -> None:
    _version(tmp_path, cap=200)
    users = recall_model("item_bag").user_vectors(tmp_path, None, 5)  # type: ignore[arg-type]
    assert users.vector(None) is None
    assert users.vector(None, {99}) is None
