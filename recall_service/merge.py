"""Merging the candidates of several recall routes into one list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.api import Candidate


@dataclass(frozen=True)
class RouteHits:
    """What one route proposed, best first, with scores comparable across routes."""

    route: str
    hits: list[tuple[int, float]]
    quota: int


def merge_routes(
    routes: Sequence[RouteHits], seen: set[int]
) -> tuple[list[Candidate], dict[str, int]]:
    """Union of the routes' first `quota` unseen items each, best score first.

    An item proposed by several routes appears once, keeps its best score and lists every route
    that proposed it (in route order). Also returns how many items each route contributed.
    """
    merged: dict[int, Candidate] = {}
    contributed: dict[str, int] = {}
    for route in routes:
        taken = 0
        for item, score in route.hits:
            if taken >= route.quota:
                break
            if item in seen:
                continue
            candidate = merged.get(item)
            if candidate is None:
                merged[item] = Candidate(item_id=item, score=score, routes=[route.route])
                taken += 1
            elif route.route not in candidate.routes:
                candidate.routes.append(route.route)
                candidate.score = max(candidate.score, score)
                taken += 1
        contributed[route.route] = taken
    # A stable sort keeps route order between equal scores.
    ordered = sorted(merged.values(), key=lambda c: c.score, reverse=True)
    return ordered, contributed
