"""evaluate_recall on a hand-built home: six items, two test users (one warm, one cold) on the
global split, more users added where a test needs them."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import Settings
from core.storage import OutputManifest, write_manifest
from core.tables import EVENTS, ITEMS
from evaluation.cutoff_store import CutoffStore
from evaluation.recall.run import evaluate_recall
from evaluation.replay import at_cutoff
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.training.synthetic import synthetic_items, synthetic_samples
from recall_service.index.files import ITEM_IDS, VECTORS
from recall_service.index.milvus import l2_normalise

GENRES = {1: ["Drama"], 2: ["Drama"], 3: ["Comedy"], 4: ["Comedy"], 5: ["War"], 6: ["War"]}
# (user, item, day, label). User 1 likes item 1; user 10 likes 1 and 2; item 3 is the most
# popular of the train period.
TRAIN = [
    (1, 1, 1, 1),
    (10, 1, 2, 1),
    (10, 2, 2, 1),
    (11, 3, 3, 1),
    (12, 3, 4, 1),
    (13, 3, 5, 1),
    (14, 5, 6, 1),
]
# User 1 (warm) goes on to like item 2, user 2 (never seen) item 3. Six users dislike item 6
# after the cutoff: if test events leaked into popularity, item 6 would top it.
TEST = [(1, 2, 20, 1), (2, 3, 20, 1), *[(u, 6, 21, 0) for u in range(20, 26)]]


CUTOFF = datetime(2020, 1, 20, tzinfo=UTC)


def _write_lake(paths: StarlingPaths, rows: list[tuple[int, int, int, int]]) -> None:
    """The rating events and the split the features job would have recorded with the train
    samples."""
    _add_events(paths, rows, part=0)
    paths.train_samples.mkdir(parents=True)
    split = OutputManifest(step="features.train", inputs={}, extra={"cutoff": CUTOFF.isoformat()})
    write_manifest(paths.train_samples, split)


def _add_events(paths: StarlingPaths, rows: list[tuple[int, int, int, int]], part: int) -> None:
    """(user, item, day, label) rows as rating events (label 1 as a 4.0, label 0 as a 1.0;
    threshold 3.5) in one more file of the lake."""
    folder = paths.events / "month=2020-01"
    folder.mkdir(parents=True, exist_ok=True)
    users, items, days, labels = zip(*rows, strict=True)
    events = pa.table(
        {
            "event_id": pa.array(range(part * 1000, part * 1000 + len(rows)), pa.int64()),
            "user_id": pa.array(users, pa.int64()),
            "item_id": pa.array(items, pa.int64()),
            "event_type": ["rating"] * len(rows),
            "value": pa.array([4.0 if label else 1.0 for label in labels], pa.float32()),
            "ts": pa.array(
                [datetime(2020, 1, d, tzinfo=UTC) for d in days], pa.timestamp("ms", tz="UTC")
            ),
            "source": ["hand"] * len(rows),
        }
    ).cast(EVENTS)
    pq.write_table(events, folder / f"part-{part}.parquet")


@pytest.fixture
def paths(tmp_path: Path) -> StarlingPaths:
    paths = StarlingPaths(tmp_path)
    _write_lake(paths, TRAIN + TEST)
    paths.items.mkdir(parents=True)
    items = pa.table(
        {
            "item_id": pa.array(list(GENRES), pa.int64()),
            "title": [f"Item {i}" for i in GENRES],
            "genres": pa.array(list(GENRES.values()), pa.list_(pa.string())),
            "year": pa.array([2000] * len(GENRES), pa.int32()),
            "imdb_id": [None] * len(GENRES),
            "tmdb_id": [None] * len(GENRES),
        }
    ).cast(ITEMS)
    pq.write_table(items, paths.items / "part-0.parquet")
    # Pairs of items point the same way: 1-2, 3-4, 5-6.
    vectors = l2_normalise(np.array([[1, 0, 0], [1, 0.1, 0], [0, 1, 0], [0.1, 1, 0], [0, 0, 1]]))

    def write(folder: Path) -> None:
        np.save(folder / VECTORS, np.vstack([vectors, [[0.1, 0, 1]]]))
        np.save(folder / ITEM_IDS, np.arange(1, 7))

    Registry(paths.registry).publish(
        "recall", "item2vec", write=write, metrics={}, data_snapshot="x"
    )
    return paths


def test_every_route_baseline_and_the_merge_are_measured_on_train_period_knowledge(
    paths: StarlingPaths,
) -> None:
    evaluation = evaluate_recall(Settings(home=paths.home), paths, ks=(1, 6))

    assert (evaluation.users, evaluation.cold_users, evaluation.catalog_items) == (2, 1, 6)
    recall_at_1 = {m.name: m.metrics["recall@1"] for m in evaluation.methods}
    # Only the warm user's item 2 can come from history: the item-to-item, embedding, genre
    # and item-KNN lists start with it. Popularity finds the cold user's item 3 only because
    # item 6's test-period ratings stayed out of it. The merge finds both. item2vec has no
    # item-CF weights, so that route proposes nothing.
    assert recall_at_1 == {
        "embedding": 0.5,
        "item_cf": 0.0,
        "item_to_item": 0.5,
        "popular": 0.5,
        "genre": 0.5,
        "merged": 1.0,
        "most_popular": 0.5,
        "item_knn": 0.5,
    }
    assert evaluation.method("item_knn").users_with_candidates == 1
    assert evaluation.method("merged").metrics["coverage@1"] == pytest.approx(2 / 6)

    # The warm user alone: popularity proposes item 3 first, the merge item 2.
    assert evaluation.method("popular").warm_metrics["recall@1"] == 0.0
    assert evaluation.method("merged").warm_metrics["recall@1"] == 1.0

    table = evaluation.to_table().splitlines()
    assert "recall@1" in table[1] and table[3].split()[:2] == ["embedding", "0.5000"]
    n = len(recall_at_1)
    assert table[3 + n : 5 + n] == ["", "warm users only (1):"]
    saved = json.loads((paths.stats / "recall_eval.json").read_text())
    assert saved["methods"][5]["name"] == "merged"
    assert (paths.stats / "recall_eval.png").stat().st_size > 0


def test_a_pipeline_gets_the_test_users_and_its_row_is_compared_with_the_baselines(
    paths: StarlingPaths,
) -> None:
    asked: list[tuple[list[int], int]] = []

    def pipeline(store: CutoffStore, users: Sequence[int], k: int) -> list[list[int]]:
        asked.append((list(users), k))
        # Finds the warm user's item 2, misses the cold user's item 3.
        return [[2, 4], [5]]

    evaluation = evaluate_recall(Settings(home=paths.home), paths, ks=(1, 6), pipeline=pipeline)

    assert asked == [([1, 2], 6)]
    row = evaluation.method("recommend")
    assert (row.kind, row.metrics["recall@1"], row.warm_metrics["recall@1"]) == (
        "pipeline",
        0.5,
        1.0,
    )
    assert row.cold_metrics["recall@1"] == 0.0
    ratios = evaluation.to_table().splitlines()[-3:]
    assert ratios[0] == (
        "recommend / most_popular: recall@6 0.5000 vs 1.0000 (x0.500), "
        "ndcg@1 0.5000 vs 0.5000 (x1.000)"
    )
    assert ratios[1].startswith("recommend / item_knn: ")
    assert ratios[2].startswith("merged / best route (")


def test_users_who_rated_before_the_cutoff_are_warm_and_the_others_cold_in_rows_of_their_own(
    paths: StarlingPaths,
) -> None:
    # User 3 only disliked item 6 before the cutoff, then liked item 4: warm, though with no
    # train-period positive. User 2 had rated nothing before the cutoff: cold.
    _add_events(paths, [(3, 6, 7, 0), (3, 4, 22, 1)], part=1)

    def pipeline(store: CutoffStore, users: Sequence[int], k: int) -> list[list[int]]:
        # Users 1, 2, 3: finds 1's item 2 and 3's item 4, misses 2's item 3.
        return [[2], [5], [4]]

    evaluation = evaluate_recall(Settings(home=paths.home), paths, ks=(1, 6), pipeline=pipeline)

    assert (evaluation.users, evaluation.cold_users, evaluation.positives) == (3, 1, 3)
    row = evaluation.method("recommend")
    assert row.metrics["recall@1"] == pytest.approx(2 / 3)
    assert (row.warm_metrics["recall@1"], row.cold_metrics["recall@1"]) == (1.0, 0.0)
    # Coverage too is over the group's own lists: the cold user was shown item 5 only.
    assert row.cold_metrics["coverage@1"] == pytest.approx(1 / 6)
    table = evaluation.to_table()
    assert "on the global split: 3 test users (2 warm, 1 cold), 3 positives" in table
    assert "warm users only (2):" in table and "cold users only (1):" in table
    saved = json.loads((paths.stats / "recall_eval.json").read_text())
    assert saved["split"] == "global"
    assert saved["methods"][-1]["cold_metrics"]["recall@1"] == 0.0


def test_the_per_user_split_replays_each_user_as_of_their_own_cutoff(
    paths: StarlingPaths,
) -> None:
    # Five ratings each: the fifth is held out. User 30's (day 21) lies after the time split's
    # cutoff (day 20), user 31's (day 10) before it, where the home's models trained on it.
    user_30 = [(30, 1, 1, 1), (30, 3, 2, 1), (30, 5, 3, 1), (30, 2, 4, 1), (30, 4, 21, 1)]
    user_31 = [(31, 1, 1, 1), (31, 2, 2, 1), (31, 3, 3, 1), (31, 5, 4, 1), (31, 6, 10, 1)]
    _add_events(paths, user_30 + user_31, part=1)
    stores: list[CutoffStore] = []

    def pipeline(store: CutoffStore, users: Sequence[int], k: int) -> list[list[int]]:
        stores.append(store)
        return [[4], [3]]

    settings = Settings(home=paths.home)
    evaluation = evaluate_recall(settings, paths, ks=(1, 6), pipeline=pipeline, split="per-user")

    # Users with two ratings or fewer keep them all: only 30 and 31 have a held-out positive.
    assert (evaluation.split, evaluation.users, evaluation.cold_users) == ("per-user", 2, 0)
    assert evaluation.positives_seen_in_training == 1
    row = evaluation.method("recommend")
    assert (row.metrics["recall@1"], row.warm_metrics["recall@1"], row.cold_metrics) == (
        0.5,
        0.5,
        {},
    )
    (store,) = stores
    assert store.user_state(30).seen == {1, 2, 3, 5}
    assert 4 not in dict(store.popular(10))
    # User 1 holds nothing out: their day-20 rating, past the global cutoff, is known.
    assert store.user_state(1).seen == {1, 2}
    table = evaluation.to_table()
    assert "warm users only" not in table
    assert table.splitlines()[-1].startswith(
        "caveat: the models were trained on the time split's first part, which holds 1 of these 2 "
        "test positives"
    )


def _publish_untrained_rank_model(paths: StarlingPaths) -> None:
    items = synthetic_items(len(GENRES))
    encoder = FeatureEncoder.fit(synthetic_samples(items, rows=300, n_users=30))
    config = RankModelConfig(
        name="mlp", embedding_dim=4, hidden=[8], vocab_sizes=encoder.vocab_sizes()
    )
    torch.manual_seed(0)
    state = build_model(config).state_dict()
    Registry(paths.registry).publish(
        "rank",
        "mlp",
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={},
        data_snapshot="test",
    )


def test_the_replayed_pipeline_reads_the_store_the_routes_were_measured_on(
    paths: StarlingPaths,
) -> None:
    _publish_untrained_rank_model(paths)
    settings = Settings(home=paths.home)
    stores: list[CutoffStore] = []

    def pipeline(store: CutoffStore, users: Sequence[int], k: int) -> list[list[int]]:
        stores.append(store)
        replay = at_cutoff(settings, paths, store)
        assert replay.recaller.store is store and replay.ranker.profiles is store
        # Ranked in the context of the cutoff, not of the moment the replay runs.
        assert replay.ranker.clock() == store.features.cutoff_ms
        return replay.lists(users, k)

    evaluation = evaluate_recall(settings, paths, ks=(1, 6), pipeline=pipeline)

    (store,) = stores
    # The train period only: user 1 had liked item 1; item 6's test-period ratings are unknown.
    profile = store.user_state(1).profile
    assert profile is not None and profile.user_recent_items == [1]
    assert store.user_state(1).seen == {1}
    # Decayed: item 5 (rated once on day 6) before item 2 (once on day 2).
    assert [item for item, _ in store.popular(4)] == [3, 1, 5, 2]
    assert 6 not in dict(store.popular(10))
    assert evaluation.method("recommend").users_with_candidates == 2
