"""Merging the candidates of several recall routes into one list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.api import Candidates


@dataclass(frozen=True)
class RouteHits:
    """What one route proposed, best first."""

    route: str
    hits: list[tuple[int, float]]
    quota: int


def merge_routes(routes: Sequence[RouteHits], seen: set[int]) -> tuple[Candidates, dict[str, int]]:
    """Union of the routes' first `quota` unseen items each, best fused score first.

    A route's r-th item taken earns (quota - r) / Q, Q the largest quota: ranks, not raw scores,
    fuse (cosines and popularity counts are not on one scale), a route weighs in proportion to
    its quota, and an item proposed by several routes adds up their shares. So the widest route
    (popularity) sets the order and the narrow personal routes lift the items they agree with;
    their other items still enter the candidate set, below. Measured on a validation split,
    giving every route's best item the same share put weak personal hits above popular items
    users went on to like. Each item appears once and lists every route that proposed it (in
    route order). Also returns how many items each route contributed.
    """
    scores: dict[int, float] = {}
    proposers: dict[int, list[str]] = {}
    contributed: dict[str, int] = {}
    widest = max((route.quota for route in routes), default=0)
    for route in routes:
        taken = 0
        for item, _ in route.hits:
            if taken >= route.quota:
                break
            if item in seen:
                continue
            names = proposers.get(item)
            if names is not None and route.route in names:
                continue
            share = (route.quota - taken) / widest
            if names is None:
                scores[item] = share
                proposers[item] = [route.route]
            else:
                names.append(route.route)
                scores[item] += share
            taken += 1
        contributed[route.route] = taken
    # A stable sort keeps route order between equal scores.
    ordered = sorted(scores, key=lambda item: scores[item], reverse=True)
    merged = Candidates(
        item_ids=ordered,
        scores=[scores[item] for item in ordered],
        routes=[proposers[item] for item in ordered],
    )
    return merged, contributed
