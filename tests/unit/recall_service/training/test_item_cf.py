from __future__ import annotations

import numpy as np
import pytest

from recall_service.models.item_cf import ItemCFWeights
from recall_service.training import item_cf
from recall_service.training.item_cf import fit_item_cf
from tests.support.item_weights import dense


def _pairs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    users, items = np.nonzero(matrix)
    return users, items


def test_items_watched_together_speak_for_each_other_and_never_for_themselves() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.random((400, 12)) < 0.15
    # Whoever has item 0 also has item 1; item 2 goes with neither.
    matrix[:, 1] = matrix[:, 0]
    matrix[matrix[:, 0], 2] = False
    weights = dense(fit_item_cf(*_pairs(matrix), 12, 100, 5.0, 100))

    assert np.all(np.diag(weights) == 0)
    assert weights[0].argmax() == 1
    assert weights[0, 1] > 0 > weights[0, 2]


def test_the_weights_solve_the_ridge_regression_of_each_item_on_the_others() -> None:
    rng = np.random.default_rng(1)
    matrix = (rng.random((300, 10)) < 0.3).astype(np.float64)
    weights = dense(fit_item_cf(*_pairs(matrix), 10, 100, 10.0, 100))
    # EASE's condition: B minimises |X - XB|^2 + 10 |B|^2 with diag(B) = 0, so the gradient
    # vanishes off the diagonal.
    gradient = matrix.T @ (matrix @ weights - matrix) + 10.0 * weights
    off_diagonal = ~np.eye(10, dtype=bool)
    assert np.abs(gradient[off_diagonal]).max() < 1e-3


def test_the_solution_is_the_same_when_the_gram_matrix_is_built_in_many_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.random((200, 11)) < 0.3
    whole = dense(fit_item_cf(*_pairs(matrix), 11, 100, 5.0, 100))
    monkeypatch.setattr(item_cf, "COLUMN_BLOCK", 3)
    blocked = dense(fit_item_cf(*_pairs(matrix), 11, 100, 5.0, 100))
    np.testing.assert_array_equal(blocked, whole)


def test_each_item_keeps_its_strongest_weights_and_rare_items_get_none() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.random((500, 20)) < 0.2
    matrix[:, 19] = False
    matrix[:3, 19] = True  # the rarest item
    full = dense(fit_item_cf(*_pairs(matrix), 20, 100, 5.0, 100))
    capped = fit_item_cf(*_pairs(matrix), 20, 100, 5.0, 4)
    assert np.all(np.diff(capped.indptr) == 4)
    for row in range(20):
        span = slice(capped.indptr[row], capped.indptr[row + 1])
        strongest = np.sort(np.abs(full[row]))[-4:]
        assert np.allclose(np.sort(np.abs(capped.weights[span])), strongest, atol=1e-6)

    common = fit_item_cf(*_pairs(matrix), 20, 19, 5.0, 100)
    assert common.indptr[20] == common.indptr[19]  # item 19 has no row
    assert 19 not in common.indices


def test_a_history_scores_items_by_its_items_weighted_rows() -> None:
    weights = ItemCFWeights(
        indptr=np.array([0, 2, 3, 3]),
        indices=np.array([1, 2, 0]),
        weights=np.array([0.5, -1.0, 2.0], dtype=np.float32),
    )
    scores = weights.scores(np.array([0, 1]), np.array([1.0, 0.25]))
    assert scores.tolist() == [0.5, 0.5, -1.0]
    assert weights.scores(np.array([], dtype=np.int64), np.array([])).tolist() == [0, 0, 0]
