import pytest

from recall_service.serving.merge import RouteHits, merge_routes


def test_merge_adds_up_quota_shares_of_agreeing_routes_and_drops_seen_items() -> None:
    candidates, contributed = merge_routes(
        [
            RouteHits("a", [(1, 0.9), (2, 0.8), (3, 0.7)], quota=2),
            RouteHits("b", [(3, 0.95), (2, 0.1), (4, 0.5), (5, 0.4)], quota=5),
        ],
        seen={1},
    )

    # Shares are (quota - r) / 5. a: 2 -> 2/5, 3 -> 1/5; b: 3 -> 1, 2 -> 4/5, 4 -> 3/5, 5 -> 2/5.
    assert list(zip(candidates.item_ids, candidates.routes, strict=True)) == [
        (2, ["a", "b"]),
        (3, ["a", "b"]),
        (4, ["b"]),
        (5, ["b"]),
    ]
    assert candidates.scores == pytest.approx([1.2, 1.2, 0.6, 0.4])
    assert contributed == {"a": 2, "b": 4}


def test_a_narrow_route_lifts_the_wide_routes_items_it_agrees_with() -> None:
    wide = RouteHits("popular", [(i, 0.0) for i in range(1, 11)], quota=10)
    narrow = RouteHits("genre", [(7, 0.0), (20, 0.0)], quota=2)

    candidates, _ = merge_routes([wide, narrow], seen=set())

    order = candidates.item_ids
    # Item 7 (popular share 0.4, the genre route's best: + 0.2) overtakes popular item 6 (0.5);
    # the genre route's own find, item 20 (0.1), joins the candidates near the end.
    assert order.index(4) < order.index(7) < order.index(6)
    assert order.index(20) > order.index(9)
