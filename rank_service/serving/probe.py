"""The load-time check of a ranking version: a probe batch must score to finite numbers.

A version whose weights diverged during training loads without complaint and then answers NaN
for every candidate, which sorts arbitrarily; scoring a probe batch before serving catches it.
"""

from __future__ import annotations

import numpy as np

from core.online_store import UserProfile
from rank_service.serving.scorer import Scorer, ScoreRequest

PROBE_ITEMS = 64


class UnusableModelError(ValueError):
    """A version that loads but scores NaN or inf."""


def probe_requests(scorer: Scorer) -> list[ScoreRequest]:
    """A warm and a cold user over the first catalogue items and one unknown item."""
    known = scorer.items.column("item_id").to_pylist()[:PROBE_ITEMS]
    item_ids = [*known, max(known, default=0) + 1]
    genres = scorer.items.column("item_genres").to_pylist()[:3]
    warm = UserProfile(
        user_id=1,
        user_rating_count=20,
        user_avg_rating=3.5,
        user_rating_stddev=1.0,
        user_avg_release_year=2000.0,
        user_release_year_stddev=10.0,
        user_genres=sorted({g for row in genres for g in row or []}),
        user_recent_items=known[:5],
    )
    return [ScoreRequest(warm, 1, item_ids), ScoreRequest(None, 0, item_ids)]


def check_finite(scorer: Scorer) -> None:
    """Raise UnusableModelError when any probe score is NaN or infinite."""
    scores = np.concatenate(scorer.score_many(probe_requests(scorer)))
    bad = int((~np.isfinite(scores)).sum())
    if bad:
        raise UnusableModelError(
            f"rank {scorer.tag} scores {bad} of {scores.size} probe rows as NaN or inf"
        )
