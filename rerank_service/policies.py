"""Rerank policies: plain functions over ranked candidates, each recording its contribution."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from core.api import Candidate
from rerank_service.item_facts import ItemFacts


def _adjust(candidate: Candidate, policy: str, delta: float) -> Candidate:
    contributions = {**candidate.contributions, policy: delta}
    return candidate.model_copy(
        update={"score": candidate.score + delta, "contributions": contributions}
    )


@dataclass(frozen=True)
class Adjustment:
    """What one policy adds to the scores of the pool (N,), only where `applies` (N,) holds
    (every item when None); recorded as that policy's contribution."""

    policy: str
    delta: np.ndarray
    applies: np.ndarray | None = None


def _lookup(ids: np.ndarray, values: dict[int, float]) -> np.ndarray:
    """values[id] for each id (N,), float64, 0 for an item without one."""
    return np.fromiter((values.get(i, 0.0) for i in ids.tolist()), np.float64, len(ids))


def freshness_boost(
    ids: np.ndarray, facts: ItemFacts, weight: float, half_life_years: float
) -> Adjustment | None:
    """Add `weight` for a release of the newest year, halving every `half_life_years`; items
    of unknown year get nothing."""
    if weight <= 0:
        return None
    years = _lookup(ids, facts.year)
    age = np.maximum(facts.newest_year - years, 0.0)
    bonus = np.where(years > 0, weight * 0.5 ** (age / half_life_years), 0.0)
    return Adjustment("freshness", bonus)


def popularity_debias(ids: np.ndarray, facts: ItemFacts, weight: float) -> Adjustment | None:
    """Subtract `weight` times the item's log-scaled popularity, so the long tail gets a chance."""
    if weight <= 0:
        return None
    return Adjustment("popularity", -weight * _lookup(ids, facts.popularity))


def trending_boost(ids: np.ndarray, facts: ItemFacts, weight: float) -> Adjustment | None:
    """Add `weight` times the item's trending score (1 for the hottest item).

    The ranker estimates whether a user would like an item once they watch it, not whether they
    will watch it; what people watch right now carries that second half.
    """
    if weight <= 0:
        return None
    return Adjustment("trending", weight * _lookup(ids, facts.trending))


def context_genre_boost(
    ids: np.ndarray, scores: np.ndarray, facts: ItemFacts, genre: str | None
) -> Adjustment | None:
    """Lift items of the genre the user is browsing above every other item.

    The lift is one more than the spread of the scores, so it holds whatever the other policies
    added before it (trending alone can add up to its weight).
    """
    if not genre or len(ids) == 0:
        return None
    lift = 1.0 + float(scores.max()) - float(scores.min())
    applies = np.fromiter(
        (genre in facts.genres.get(i, ()) for i in ids.tolist()), np.bool_, len(ids)
    )
    return Adjustment("context_genre", np.full(len(ids), lift), applies)


class GenreMatrix:
    """Every item's genres as a multi-hot row, so that genre overlaps are array operations."""

    def __init__(self, genres: dict[int, list[str]]) -> None:
        names = sorted({g for item_genres in genres.values() for g in item_genres})
        column = {name: j for j, name in enumerate(names)}
        # Row 0 stands for an item without known genres.
        self.rows = np.zeros((len(genres) + 1, len(names)), dtype=np.float64)
        self.row_of: dict[int, int] = {}
        for row, (item, item_genres) in enumerate(genres.items(), start=1):
            self.row_of[item] = row
            for g in item_genres:
                self.rows[row, column[g]] = 1.0

    def of(self, ids: np.ndarray) -> np.ndarray:
        """Multi-hot genres (N, G) of the items."""
        return self.rows[[self.row_of.get(i, 0) for i in ids.tolist()]]


def mmr(
    scores: np.ndarray, genres: np.ndarray, lam: float, k: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Maximal marginal relevance: positions of k items (best first) trading score (N,)
    against genre overlap (Jaccard of the multi-hot rows `genres` (N, G)).

    Each pick maximises `lam * score - (1 - lam) * max overlap with the picks so far`, the
    first of equals in score order winning; also returns the penalty each pick paid, or None
    when `lam == 1` (order by score alone). Each item's max overlap is updated with the newest
    pick only, so a request costs k array passes over the candidates.
    """
    order = np.argsort(-scores, kind="stable")
    if lam >= 1:
        return order[:k], None
    pool_scores = scores[order]
    pool_genres = genres[order]
    sizes = pool_genres.sum(axis=1)
    overlap = np.zeros(len(order))
    alive = np.ones(len(order), dtype=bool)
    picked: list[int] = []
    penalties: list[float] = []
    while len(picked) < min(k, len(order)):
        value = np.where(alive, lam * pool_scores - (1 - lam) * overlap, -np.inf)
        best = int(np.argmax(value))
        alive[best] = False
        picked.append(best)
        penalties.append(-(1 - lam) * overlap[best])
        shared = pool_genres @ pool_genres[best]
        union = sizes + sizes[best] - shared
        similarity = np.divide(shared, union, out=np.zeros(len(order)), where=union > 0)
        overlap = np.maximum(overlap, similarity)
    return order[picked], np.array(penalties)


def cap_per_genre(
    ranked: list[Candidate], genres: dict[int, list[str]], max_per_genre: int
) -> list[Candidate]:
    """Keep the order but allow at most `max_per_genre` items per first genre.

    Items over the cap are not dropped: they move behind the items that fit, so a short catalog
    still fills the list. `max_per_genre == 0` switches the policy off.
    """
    if max_per_genre <= 0:
        return list(ranked)
    counts: Counter[str] = Counter()
    kept: list[Candidate] = []
    deferred: list[Candidate] = []
    for candidate in ranked:
        first = (genres.get(candidate.item_id) or [""])[0]
        if counts[first] < max_per_genre:
            counts[first] += 1
            kept.append(candidate)
        else:
            deferred.append(candidate)
    return kept + deferred


def place_arrivals(
    chosen: list[Candidate], arrivals: list[Candidate], slots: int, position: int
) -> list[Candidate]:
    """Give the best `slots` new arrivals a place from `position` on (0-based), unless they
    already rank there or higher. A new item has no events, vector or features, so ranking
    alone would never show it and nothing would ever be learnt about it: one reserved place is
    how it gets its first impressions (exploration), at a cost of one place in a list while
    there are arrivals of the user's genres."""
    if slots <= 0 or not arrivals:
        return chosen
    out = list(chosen)
    for n, arrival in enumerate(arrivals[:slots]):
        at = position + n
        current = next((i for i, c in enumerate(out) if c.item_id == arrival.item_id), None)
        if current is not None and current <= at:
            continue
        if current is not None:
            out.pop(current)
        out.insert(min(at, len(out)), _adjust(arrival, "new_arrival", 0.0))
    return out


def pin(ranked: list[Candidate], pins: dict[int, int], k: int) -> list[Candidate]:
    """Put pinned items at their positions (within the first k), keeping the rest in order."""
    if not pins:
        return ranked[:k]
    rest = [c for c in ranked if c.item_id not in pins]
    by_id = {c.item_id: c for c in ranked}
    out = list(rest)
    for item_id, position in sorted(pins.items(), key=lambda p: p[1]):
        if position >= k:
            continue
        pinned = by_id.get(item_id) or Candidate(item_id=item_id, score=0.0, routes=["pinned"])
        out.insert(min(position, len(out)), _adjust(pinned, "pinned", 0.0))
    return out[:k]


def top_k(ranked: list[Candidate], k: int) -> list[Candidate]:
    """The first k distinct items."""
    seen: set[int] = set()
    out: list[Candidate] = []
    for candidate in ranked:
        if candidate.item_id not in seen:
            seen.add(candidate.item_id)
            out.append(candidate)
        if len(out) == k:
            break
    return out
