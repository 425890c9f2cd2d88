"""The online update's gate for the recall model: on the held-out window, how many of each
user's new positives the embedding route finds among its top 50, made of the user's history
before the window exactly as serving makes it (recency-weighted input embeddings, cosine
against the item vectors, the history's own items left out). A candidate serves only if its
Recall@50 is at most `recall_tolerance` below the serving model's."""

from __future__ import annotations

import numpy as np

from core.decisions import WindowMetrics
from core.history_embeddings import HistoryEmbeddings
from core.online_settings import OnlineSettings
from evaluation.online_gate import Verdict
from evaluation.recall.metrics import recall_at_k
from recall_service.training.bag_online_data import WindowUsers

K = 50


def top_items(embeddings: HistoryEmbeddings, history: np.ndarray, k: int) -> list[int]:
    """The k items whose vectors are nearest the user vector of `history` (newest first), none
    of the history's own; none when no item of the history has an embedding."""
    query = embeddings.vector(history.tolist())
    if query is None:
        return []
    scores = embeddings.outputs @ query
    seen = embeddings.rows(history)
    scores[seen[seen >= 0]] = -np.inf
    k = min(k, len(scores))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return embeddings.item_ids[best[np.isfinite(scores[best])]].tolist()


def recall_window_metrics(embeddings: HistoryEmbeddings, users: WindowUsers) -> WindowMetrics:
    """Mean Recall@50 over the window's users (a user no item of whose history the model
    knows finds nothing: 0); `recall_at_50` None when no user can be judged."""
    found = [
        recall_at_k(top_items(embeddings, history, K), set(targets.tolist()), K)
        for history, targets in zip(users.histories, users.targets, strict=True)
    ]
    return WindowMetrics(
        recall_at_50=float(np.mean(found)) if found else None, rows=len(users.histories)
    )


def judge_recall(
    candidate: WindowMetrics, serving: WindowMetrics, online: OnlineSettings
) -> Verdict:
    """Accept the candidate when its Recall@50 is not lower than the serving model's beyond
    `online.recall_tolerance`."""
    if candidate.recall_at_50 is None or serving.recall_at_50 is None:
        return Verdict(accepted=False, reasons=["no window user to judge: no Recall@50"])
    if not np.isfinite(candidate.recall_at_50):
        return Verdict(accepted=False, reasons=["the candidate's Recall@50 is not finite"])
    drop = serving.recall_at_50 - candidate.recall_at_50
    accepted = drop <= online.recall_tolerance
    reason = (
        f"Recall@{K} {candidate.recall_at_50:.4f} vs serving {serving.recall_at_50:.4f} over "
        f"{candidate.rows} users: {'within' if accepted else 'beyond'} the tolerance "
        f"{online.recall_tolerance:g} ({-drop:+.4f})"
    )
    return Verdict(accepted=accepted, reasons=[reason])
