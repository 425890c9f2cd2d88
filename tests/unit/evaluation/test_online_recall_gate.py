"""The recall gate: a candidate whose user vectors find users' new positives passes against a
random serving model; a broken one (zero vectors) is refused; the tolerance is honoured."""

from __future__ import annotations

import numpy as np
import pytest

from core.decisions import WindowMetrics
from core.history_embeddings import HistoryEmbeddings, unit_rows
from core.online_settings import OnlineSettings
from evaluation.online_recall_gate import judge_recall, recall_window_metrics, top_items
from recall_service.training.bag_online_data import WindowUsers

ITEMS, USERS, DIM = 200, 20, 32


def _users() -> WindowUsers:
    """User u had items 5u..5u+4 (newest first) and turned to item 100 + u in the window."""
    return WindowUsers(
        histories=[np.arange(5 * u + 4, 5 * u - 1, -1) for u in range(USERS)],
        targets=[np.array([100 + u]) for u in range(USERS)],
    )


def _embeddings(inputs: np.ndarray, outputs: np.ndarray) -> HistoryEmbeddings:
    return HistoryEmbeddings(
        inputs=inputs.astype(np.float32),
        outputs=unit_rows(outputs),
        item_ids=np.arange(ITEMS),
        cap=10,
        half_life=10.0,
        model="test",
    )


def _random() -> HistoryEmbeddings:
    rng = np.random.default_rng(1)
    return _embeddings(rng.normal(size=(ITEMS, DIM)), rng.normal(size=(ITEMS, DIM)))


def _fitted() -> HistoryEmbeddings:
    """User u's history items and their next item all point along axis u."""
    rng = np.random.default_rng(2)
    inputs = rng.normal(scale=0.01, size=(ITEMS, DIM))
    outputs = rng.normal(scale=0.01, size=(ITEMS, DIM))
    for u in range(USERS):
        inputs[5 * u : 5 * u + 5, u] = 1.0
        outputs[100 + u, u] = 1.0
    return _embeddings(inputs, outputs)


def test_a_fitted_candidate_passes_and_a_broken_one_is_refused() -> None:
    users, online = _users(), OnlineSettings()
    serving = recall_window_metrics(_random(), users)
    fitted = recall_window_metrics(_fitted(), users)
    broken = recall_window_metrics(
        _embeddings(np.zeros((ITEMS, DIM)), np.zeros((ITEMS, DIM))), users
    )
    assert fitted.recall_at_50 == 1.0 and fitted.rows == USERS
    assert serving.recall_at_50 is not None and 0.05 < serving.recall_at_50 < 0.6
    assert broken.recall_at_50 == 0.0
    accepted = judge_recall(fitted, serving, online)
    assert accepted.accepted and "within the tolerance" in accepted.reasons[0]
    refused = judge_recall(broken, serving, online)
    assert not refused.accepted
    assert refused.reasons[0].startswith("Recall@50 0.0000 vs serving")
    assert "beyond the tolerance 0.005" in refused.reasons[0]


def test_top_items_leave_the_history_out() -> None:
    fitted = _fitted()
    history = np.array([4, 3, 2, 1, 0])
    top = top_items(fitted, history, 50)
    assert top[0] == 100 and len(top) == 50 and not set(top) & set(history.tolist())


@pytest.mark.parametrize(("candidate", "accepted"), [(0.296, True), (0.294, False)])
def test_the_tolerance_bounds_the_drop(candidate: float, accepted: bool) -> None:
    online = OnlineSettings(recall_tolerance=0.005)
    serving = WindowMetrics(recall_at_50=0.3, rows=40)
    verdict = judge_recall(WindowMetrics(recall_at_50=candidate, rows=40), serving, online)
    assert verdict.accepted is accepted


def test_no_user_to_judge_refuses() -> None:
    empty = recall_window_metrics(_random(), WindowUsers(histories=[], targets=[]))
    assert empty.recall_at_50 is None
    assert not judge_recall(empty, empty, OnlineSettings()).accepted
