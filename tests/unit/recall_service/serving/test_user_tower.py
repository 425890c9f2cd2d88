from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from core.online_store import UserProfile
from core.settings import Settings
from recall_service.index.exact import ExactIndex
from recall_service.models.two_tower import TwoTower
from recall_service.models.two_tower_encoder import ENCODER_FILE, TwoTowerEncoder, item_table
from recall_service.models.two_tower_params import MODEL_FILE, MODEL_PARAMS_FILE, TowerParams
from recall_service.registry import recall_model
from recall_service.serving.user_tower import UserTowerVectors
from recall_service.serving.user_vectors import MeanOfRecentItems

INDEX = ExactIndex(np.array([1, 2, 3]), np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))


def _saved_tower(folder: Path) -> None:
    """What the two-tower trainer writes next to the item vectors, for items 1-3."""
    rows = item_table([1, 2, 3], [["Drama"], ["Drama"], ["War"]], [1990, 2000, 2010])
    rows = (
        rows.append_column("user_recent_items", pa.array([[2], [1], [1]], pa.list_(pa.int64())))
        .append_column("user_genres", pa.array([["Drama"]] * 3, pa.list_(pa.string())))
        .append_column("user_rating_count", pa.array([1, 2, 3], pa.int64()))
    )
    encoder = TwoTowerEncoder.fit(rows)
    params = TowerParams(
        num_items=encoder.num_items, num_genres=encoder.num_genres, dim=4, hidden=8, temperature=1
    )
    torch.manual_seed(0)
    torch.save(TwoTower(**params.model_dump()).state_dict(), folder / MODEL_FILE)
    (folder / MODEL_PARAMS_FILE).write_text(params.model_dump_json())
    (folder / ENCODER_FILE).write_text(encoder.model_dump_json())


def test_the_two_tower_embeds_a_user_from_the_profile_and_passes_on_unknown_histories(
    tmp_path: Path,
) -> None:
    _saved_tower(tmp_path)
    users = recall_model("two_tower").user_vectors(tmp_path, INDEX, Settings())
    assert isinstance(users, UserTowerVectors)

    first = users.vector(UserProfile(user_id=1, user_recent_items=[1], user_genres=["Drama"]))
    other = users.vector(UserProfile(user_id=1, user_recent_items=[3, 2], user_genres=["War"]))

    assert first is not None and other is not None
    assert abs(np.linalg.norm(first) - 1) < 1e-5
    assert not np.allclose(first, other)
    assert users.vector(UserProfile(user_id=1, user_recent_items=[99])) is None
    assert users.vector(None) is None


def test_skip_gram_models_embed_a_user_as_the_unit_mean_of_their_newest_items() -> None:
    users = recall_model("deepwalk").user_vectors(
        Path("unused"), INDEX, Settings(recall={"recent_items": 2})
    )
    assert isinstance(users, MeanOfRecentItems)

    vector = users.vector(UserProfile(user_id=1, user_recent_items=[1, 2, 3]))

    assert vector is not None
    np.testing.assert_allclose(vector, [2**-0.5, 2**-0.5], rtol=1e-6)
    assert users.vector(UserProfile(user_id=1, user_recent_items=[9])) is None
