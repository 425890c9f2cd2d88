"""Top-N list metrics, as peers.py scores them plus coverage and novelty.

Recall@50 and NDCG@10 are computed exactly as `../shared/tools/peers.py::score` does (the
yardstick); HitRate@10, coverage@10 and novelty are added here over the same lists.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

Lists = Mapping[int, Sequence[int]]


class ListMetrics(BaseModel):
    recall_at_50: float
    ndcg_at_10: float
    hit_rate_at_10: float
    coverage_at_10: float
    novelty_at_10: float


def list_metrics(
    lists: Lists, positives: Mapping[int, set[int]], train_counts: Counter[int], users: int
) -> ListMetrics:
    """`lists`: each test user's ranked items; `positives`: their unseen test positives;
    `train_counts`: interactions per item in the training part (coverage's catalogue is the
    items seen there, novelty's popularity their share of the `users` training users)."""
    recall = ndcg = hits = novelty = 0.0
    shown: set[int] = set()
    for user, relevant in positives.items():
        ranked = list(lists[user])
        recall += len(set(ranked[:50]) & relevant) / len(relevant)
        dcg = sum(1 / math.log2(k + 2) for k, item in enumerate(ranked[:10]) if item in relevant)
        ndcg += dcg / sum(1 / math.log2(k + 2) for k in range(min(10, len(relevant))))
        hits += any(item in relevant for item in ranked[:10])
        shown.update(ranked[:10])
        novelty += sum(-math.log2(max(train_counts[i], 1) / users) for i in ranked[:10]) / max(
            len(ranked[:10]), 1
        )
    n = len(positives)
    return ListMetrics(
        recall_at_50=recall / n,
        ndcg_at_10=ndcg / n,
        hit_rate_at_10=hits / n,
        coverage_at_10=len(shown) / len(train_counts),
        novelty_at_10=novelty / n,
    )
