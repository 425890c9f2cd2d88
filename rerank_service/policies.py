"""Rerank policies: plain functions over ranked candidates."""

from __future__ import annotations

from collections import Counter

from core.api import Candidate


def cap_per_genre(
    ranked: list[Candidate], genres: dict[int, list[str]], max_per_genre: int
) -> list[Candidate]:
    """Keep the rank order but allow at most `max_per_genre` items per first genre.

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
