"""Rerank policies: plain functions over ranked candidates, each recording its contribution."""

from __future__ import annotations

from collections import Counter

from core.api import Candidate
from rerank_service.item_facts import ItemFacts


def _adjust(candidate: Candidate, policy: str, delta: float) -> Candidate:
    contributions = {**candidate.contributions, policy: delta}
    return candidate.model_copy(
        update={"score": candidate.score + delta, "contributions": contributions}
    )


def freshness_boost(
    ranked: list[Candidate], facts: ItemFacts, weight: float, half_life_years: float
) -> list[Candidate]:
    """Add `weight` for a release of the newest year, halving every `half_life_years`."""
    if weight <= 0:
        return list(ranked)
    out = []
    for candidate in ranked:
        year = facts.year.get(candidate.item_id)
        age = facts.newest_year - year if year else None
        bonus = 0.0 if age is None else weight * 0.5 ** (max(age, 0) / half_life_years)
        out.append(_adjust(candidate, "freshness", bonus))
    return out


def popularity_debias(ranked: list[Candidate], facts: ItemFacts, weight: float) -> list[Candidate]:
    """Subtract `weight` times the item's log-scaled popularity, so the long tail gets a chance."""
    if weight <= 0:
        return list(ranked)
    return [
        _adjust(c, "popularity", -weight * facts.popularity.get(c.item_id, 0.0)) for c in ranked
    ]


def trending_boost(ranked: list[Candidate], facts: ItemFacts, weight: float) -> list[Candidate]:
    """Add `weight` times the item's trending score (1 for the hottest item).

    The ranker estimates whether a user would like an item once they watch it, not whether they
    will watch it; what people watch right now carries that second half.
    """
    if weight <= 0:
        return list(ranked)
    return [_adjust(c, "trending", weight * facts.trending.get(c.item_id, 0.0)) for c in ranked]


def context_genre_boost(
    ranked: list[Candidate], facts: ItemFacts, genre: str | None
) -> list[Candidate]:
    """Lift items of the genre the user is browsing above every other item.

    The lift is one more than the spread of the scores, so it holds whatever the other policies
    added before it (trending alone can add up to its weight).
    """
    if not genre or not ranked:
        return list(ranked)
    scores = [c.score for c in ranked]
    lift = 1.0 + max(scores) - min(scores)
    return [
        _adjust(c, "context_genre", lift) if genre in facts.genres.get(c.item_id, []) else c
        for c in ranked
    ]


def exclude(ranked: list[Candidate], excluded: set[int]) -> list[Candidate]:
    return [c for c in ranked if c.item_id not in excluded]


def _genre_overlap(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def mmr(ranked: list[Candidate], facts: ItemFacts, lam: float, k: int) -> list[Candidate]:
    """Maximal marginal relevance: pick k items trading score against genre overlap.

    Each pick maximises `lam * score - (1 - lam) * max overlap with the picks so far`; the
    penalty paid is recorded as the `mmr` contribution. `lam == 1` orders by score alone.
    Each item's max overlap is updated with the newest pick only, so a request costs
    O(k * candidates) overlaps instead of O(k^2 * candidates).
    """
    pool = sorted(ranked, key=lambda c: -c.score)
    if lam >= 1:
        return pool[:k]
    genres = [frozenset(facts.genres.get(c.item_id, ())) for c in pool]
    overlap = [0.0] * len(pool)
    alive = list(range(len(pool)))
    picked: list[Candidate] = []
    while alive and len(picked) < k:
        best = max(alive, key=lambda i: lam * pool[i].score - (1 - lam) * overlap[i])
        alive.remove(best)
        chosen = pool[best]
        penalty = {**chosen.contributions, "mmr": -(1 - lam) * overlap[best]}
        picked.append(chosen.model_copy(update={"contributions": penalty}))
        for i in alive:
            overlap[i] = max(overlap[i], _genre_overlap(genres[i], genres[best]))
    return picked


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
