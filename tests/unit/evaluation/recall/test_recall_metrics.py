import math

import pytest

from evaluation.recall.metrics import (
    coverage_at_k,
    hit_at_k,
    mean_metrics,
    ndcg_at_k,
    recall_at_k,
)

RANKED = [5, 1, 9, 2, 7]
RELEVANT = {1, 2, 3}


def test_recall_counts_relevant_items_in_the_first_k_over_all_relevant_items() -> None:
    assert recall_at_k(RANKED, RELEVANT, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, set(), 5) == 0.0


def test_hit_rate_is_one_once_any_relevant_item_shows_up() -> None:
    assert hit_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_at_k(RANKED, RELEVANT, 2) == 1.0


def test_ndcg_matches_the_hand_computed_value() -> None:
    # Hits at positions 1 and 3 (0-based): 1/log2(3) + 1/log2(5); ideal: 3 hits at 0, 1, 2.
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / ideal)
    # With k = 2 the ideal list holds only two hits.
    assert ndcg_at_k(RANKED, RELEVANT, 2) == pytest.approx(
        (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    )
    assert ndcg_at_k([1, 2, 3], RELEVANT, 3) == pytest.approx(1.0)


def test_coverage_is_the_share_of_the_catalog_shown_to_anyone() -> None:
    assert coverage_at_k([[1, 2, 3], [3, 4, 5]], 2, 10) == pytest.approx(4 / 10)
    assert coverage_at_k([], 2, 10) == 0.0


def test_mean_metrics_average_over_users_and_name_every_k() -> None:
    out = mean_metrics([[1, 9], [8, 9]], [{1, 2}, {7}], ks=[1, 2], catalog_size=4)

    assert out["recall@1"] == pytest.approx((0.5 + 0.0) / 2)
    assert out["hit_rate@2"] == pytest.approx(0.5)
    assert out["coverage@2"] == pytest.approx(3 / 4)
    assert set(out) == {
        f"{m}@{k}" for m in ("recall", "ndcg", "hit_rate", "coverage") for k in (1, 2)
    }
