"""Growing a registered item bag to new items: old ids keep their vectors and item-CF weights,
new ids get rows of their own, and the grown version round-trips through its files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.history_embeddings import unit_rows
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.models.item_bag import ItemBag
from recall_service.models.item_bag_files import BagParams
from recall_service.models.item_cf import ItemCFWeights
from recall_service.training.bag_version import BagVersion, grow


def _version(item_ids: list[int], dim: int = 4) -> BagVersion:
    rng = np.random.default_rng(0)
    ids = np.asarray(item_ids, dtype=np.int64)
    # Item 0 speaks for item 2 (0.5) and item 1 for item 0 (-0.25); item 2 for none.
    item_cf = ItemCFWeights(
        indptr=np.array([0, 1, 2, 2]),
        indices=np.array([2, 0]),
        weights=np.array([0.5, -0.25], dtype=np.float32),
    )
    return BagVersion(
        item_ids=ids,
        inputs=rng.normal(size=(len(ids), dim)).astype(np.float32),
        outputs=unit_rows(rng.normal(size=(len(ids), dim))),
        params=BagParams(num_items=len(ids), dim=dim, temperature=0.2, history_cap=10),
        item_cf=item_cf,
        transitions=None,
    )


def test_old_ids_keep_their_vectors_and_weights_and_new_ids_get_rows() -> None:
    old = _version([10, 20, 30])
    grown = grow(old, np.array([5, 20, 25, 40]))
    assert grown.item_ids.tolist() == [5, 10, 20, 25, 30, 40]
    assert grown.params.num_items == 6
    for row, item in enumerate(old.item_ids.tolist()):
        at = grown.item_ids.tolist().index(item)
        np.testing.assert_array_equal(grown.inputs[at], old.inputs[row])
        np.testing.assert_array_equal(grown.outputs[at], old.outputs[row])
    new_rows = [0, 3, 5]
    np.testing.assert_allclose(grown.inputs[new_rows], np.tile(old.inputs.mean(0), (3, 1)))
    np.testing.assert_allclose(np.linalg.norm(grown.outputs[new_rows], axis=1), 1.0, rtol=1e-6)
    # Each old item still speaks for the same items with the same weights, by id.
    cf = grown.item_cf
    assert cf is not None and cf.num_items == 6
    ids = grown.item_ids
    speaks = {
        int(ids[r]): dict(
            zip(
                ids[cf.indices[cf.indptr[r] : cf.indptr[r + 1]]].tolist(),
                cf.weights[cf.indptr[r] : cf.indptr[r + 1]].tolist(),
                strict=True,
            )
        )
        for r in range(6)
    }
    assert speaks == {5: {}, 10: {30: 0.5}, 20: {10: -0.25}, 25: {}, 30: {}, 40: {}}


def test_growing_by_known_ids_changes_nothing() -> None:
    old = _version([10, 20, 30])
    assert grow(old, np.array([20, 30])) is old


def test_the_grown_state_scores_old_items_as_before(tmp_path: Path) -> None:
    old = _version([10, 20, 30])
    grown = grow(old, np.array([15]))
    before, after = (ItemBag(**v.params.module_args()) for v in (old, grown))
    before.load_state_dict(old.state_dict())
    after.load_state_dict(grown.state_dict())
    np.testing.assert_allclose(
        after.item_vectors().numpy()[[0, 2, 3]], before.item_vectors().numpy(), rtol=1e-6
    )
    grown.write_files(tmp_path)
    np.save(tmp_path / ITEM_IDS, grown.item_ids)
    np.save(tmp_path / VECTORS, grown.outputs)
    again = BagVersion.load(tmp_path)
    np.testing.assert_array_equal(again.inputs, grown.inputs)
    assert again.params == grown.params and again.item_cf is not None
