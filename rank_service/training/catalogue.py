"""NDCG@k of a ranking model ordering the whole catalogue for test users, the top-N view.

AUCs score the rows that samples hold; a recommender instead ranks every item for a user. For
each of (at most) `users` test users this scores every catalogue item with the user's features
and context as of their first rated test row, the way serving scores candidates (`Scorer`),
leaves out the items they rated in the train samples, and measures how high their positive test
items land.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.online_store import UserProfile
from core.registry import ModelRef
from rank_service.artifacts import RankArtifacts
from rank_service.serving.scorer import USER_COLUMNS, Scorer, ScoreRequest
from rank_service.training.loss import NEGATIVE

# Users scored per forward pass: a catalogue of ~10k items makes this ~160k rows.
_USERS_PER_PASS = 16
# Sample columns `catalogue_ndcg` reads beyond the model's inputs: the user's last rating time,
# from which the scorer derives the time since it at the scored moment, as serving does.
SCORING_COLUMNS = ["user_last_ts"]


def rated(table: pa.Table) -> pa.Table:
    """The rows of real ratings, without sampled negatives."""
    if NEGATIVE not in table.column_names:
        return table
    return table.filter(pc.invert(table.column(NEGATIVE)))


def _profile(row: dict[str, object]) -> UserProfile:
    # A user without history has null numerics in samples; the profile's defaults stand for them.
    values = {name: row[name] for name in USER_COLUMNS if row[name] is not None}
    return UserProfile(user_id=int(row["user_id"]), **values)  # type: ignore[arg-type]


def _first_test_rows(test: pa.Table, users: int, seed: int) -> pa.Table:
    """One row per sampled test user with a positive: their earliest rated test row."""
    rows = rated(test)
    positive_users = pc.unique(rows.filter(pc.equal(rows.column("label"), 1)).column("user_id"))
    chosen = np.sort(positive_users.to_numpy())
    if chosen.size > users:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, users, replace=False))
    rows = rows.filter(pc.is_in(rows.column("user_id"), pa.array(chosen)))
    rows = rows.take(pc.sort_indices(rows, [("user_id", "ascending"), ("ts", "ascending")]))
    _, first = np.unique(rows.column("user_id").to_numpy(), return_index=True)
    return rows.take(first)


def _items_by_user(table: pa.Table, users: pa.Array) -> dict[int, set[int]]:
    picked = table.filter(pc.is_in(table.column("user_id"), users))
    out: dict[int, set[int]] = {}
    for user, item in zip(
        picked.column("user_id").to_pylist(), picked.column("item_id").to_pylist(), strict=True
    ):
        out.setdefault(user, set()).add(item)
    return out


def _ndcg(
    scores: np.ndarray, catalogue: np.ndarray, seen: set[int], relevant: set[int], k: int
) -> float:
    """NDCG@k of one user's catalogue scores, `seen` items left out of the ranking."""
    scores = np.where(np.isin(catalogue, list(seen)), -np.inf, scores)
    top = np.argsort(-scores, kind="stable")[:k]
    gains = np.isin(catalogue[top], list(relevant)).astype(np.float64)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = discounts[: min(k, len(relevant))].sum()
    return float((gains * discounts[: gains.size]).sum() / ideal)


def _recall(
    scores: np.ndarray, catalogue: np.ndarray, seen: set[int], relevant: set[int], k: int
) -> float:
    """Recall@k of one user's catalogue scores: the share of `relevant` in the top k."""
    scores = np.where(np.isin(catalogue, list(seen)), -np.inf, scores)
    top = np.argsort(-scores, kind="stable")[:k]
    return float(np.isin(catalogue[top], list(relevant)).sum() / len(relevant))


def catalogue_ndcg(
    artifacts: RankArtifacts,
    items: pa.Table,
    train: pa.Table,
    test: pa.Table,
    users: int,
    k: int = 10,
    seed: int = 0,
) -> float | None:
    """Mean NDCG@k over up to `users` test users (drawn with `seed` when there are more).

    `items` is the item features table; `train` and `test` are samples with SCORING_COLUMNS
    (sampled negatives in them are ignored). A user's relevant items are their positive test
    items not rated in `train`. None when no test user has one.
    """
    metrics = catalogue_metrics(artifacts, items, train, test, users, k, seed=seed)
    return None if metrics is None else metrics[ndcg_key(k)]


def catalogue_metrics(
    artifacts: RankArtifacts,
    items: pa.Table,
    train: pa.Table,
    test: pa.Table,
    users: int,
    k: int = 10,
    recall_k: int = 50,
    seed: int = 0,
) -> dict[str, float] | None:
    """Mean NDCG@k and Recall@recall_k over the users `catalogue_ndcg` describes, keyed by
    `ndcg_key(k)` and `recall_key(recall_k)`; None when no test user has a relevant item."""
    if users == 0:
        return None
    ref = ModelRef(kind="rank", name=artifacts.config.name, version="unpublished")
    scorer = Scorer(artifacts, items, ref)
    catalogue = scorer.items.column("item_id").to_numpy()
    firsts = _first_test_rows(test, users, seed)
    chosen = firsts.column("user_id").combine_chunks()
    seen = _items_by_user(rated(train), chosen)
    test_rated = rated(test)
    relevant = _items_by_user(test_rated.filter(pc.equal(test_rated.column("label"), 1)), chosen)
    profiles = [_profile(row) for row in firsts.to_pylist()]
    moments = firsts.column("ts").cast(pa.int64()).to_pylist()
    results: list[tuple[float, float]] = []
    for start in range(0, len(profiles), _USERS_PER_PASS):
        part = profiles[start : start + _USERS_PER_PASS]
        requests = [
            ScoreRequest(p, p.user_id, catalogue.tolist(), at_ms)
            for p, at_ms in zip(part, moments[start : start + _USERS_PER_PASS], strict=True)
        ]
        for profile, scores in zip(part, scorer.score_many(requests), strict=True):
            before = seen.get(profile.user_id, set())
            wanted = relevant.get(profile.user_id, set()) - before
            if wanted:
                results.append(
                    (
                        _ndcg(scores, catalogue, before, wanted, k),
                        _recall(scores, catalogue, before, wanted, recall_k),
                    )
                )
    if not results:
        return None
    ndcg, recall = np.mean(results, axis=0)
    return {ndcg_key(k): float(ndcg), recall_key(recall_k): float(recall)}


def ndcg_key(k: int) -> str:
    """The metric's name in manifests and reports."""
    return f"ndcg_at_{k}"


def recall_key(k: int) -> str:
    return f"recall_at_{k}"
