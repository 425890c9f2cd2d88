"""Recall models alone against ALS on the validation carve of `../shared/tools/peers.py`.

Splits ml-latest-small per user as the peers tool does (each user's last 20 % held out, then
the last 12.5 % of the rest as validation), trains the item bag in process with the training
step Ray Train runs (recall_service.training.item_bag_loop.BagStep) on the fit part, and
prints Recall@50 / NDCG@10 of its top-50 by inner product (seen items excluded) on the
validation positives, beside implicit's ALS (factors 64, regularization 0.1, 20 iterations:
the setting the tool chose on this carve) on the same users. The test part is never scored.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recall_models.py
    .venv/bin/python bench/recall_models.py --no-als --temperature 0.1 --sampled -1  # a variant

`--sampled -1` is the full softmax; `--targets all` makes every rated item a target.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa
import torch
from quality_peers import FIT_FRACTION, load_peers

from core.online_store import UserProfile
from core.tables import MAX_RECENT_ITEMS
from recall_service.models.item_bag import ItemBag
from recall_service.serving.history_bag import HistoryBagVectors
from recall_service.training.item_bag_data import BagHistories, CandidateSampler, target_counts
from recall_service.training.item_bag_loop import BagStep
from recall_service.training.vocab import ItemVocab

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "tools" / "peers.py"
DATA = ROOT.parent / "shared" / "data" / "ml-latest-small"
Rows = list[tuple[int, int, float, int]]


class FullSoftmax:
    """Every item a candidate, no correction: the exact softmax the sampled one estimates."""

    def __init__(self, num_items: int) -> None:
        self.all = torch.arange(num_items)

    def candidates(
        self, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.all, torch.zeros(len(self.all)), torch.zeros(len(targets))


def _table(rows: Rows, positives_only: bool) -> pa.Table:
    kept = [r for r in rows if r[2] >= 4 or not positives_only]
    return pa.table(
        {
            "user_id": np.asarray([r[0] for r in kept], dtype=np.int64),
            "item_id": np.asarray([r[1] for r in kept], dtype=np.int64),
            "ts": np.asarray([r[3] for r in kept], dtype=np.int64),
            "label": np.asarray([int(r[2] >= 4) for r in kept], dtype=np.int8),
        }
    )


def train_item_bag(fit: Rows, args: argparse.Namespace) -> tuple[ItemBag, BagHistories, ItemVocab]:
    table = _table(fit, args.inputs == "positive")
    vocab = ItemVocab.from_items(table["item_id"].to_numpy())
    histories = BagHistories.from_rows(table, vocab, args.cap)
    counts, pairs = target_counts(histories, args.targets == "positive")
    torch.manual_seed(args.seed)
    model = ItemBag(len(vocab), args.dim, args.temperature)
    if args.sampled < 0:
        sampler: CandidateSampler | FullSoftmax = FullSoftmax(len(vocab))
    else:
        sampler = CandidateSampler(
            counts, pairs * args.batch_size * args.target_fraction, args.sampled, args.power
        )
    step = BagStep(
        model,
        histories,
        sampler,  # type: ignore[arg-type]
        args.lr,
        args.target_fraction,
        args.targets == "positive",
        args.seed,
    )
    rng = np.random.default_rng(args.seed)
    users = np.arange(len(histories.user_ids))
    for epoch in range(args.epochs):
        order = rng.permutation(users)
        losses = [
            float(step(order[b : b + args.batch_size])[0])
            for b in range(0, len(order), args.batch_size)
        ]
        if args.verbose and (epoch + 1) % 10 == 0:
            print(f"  epoch {epoch + 1} loss {np.mean(losses):.4f}", flush=True)
    return model.eval(), histories, vocab


def _seen(fit: Rows) -> dict[int, list[tuple[int, int, float]]]:
    """Each user's fit rows as (ts, item, rating), oldest first."""
    seen: dict[int, list[tuple[int, int, float]]] = {}
    for u, i, r, t in fit:
        seen.setdefault(u, []).append((t, i, r))
    return {u: sorted(rows) for u, rows in seen.items()}


def training_queries(model: ItemBag, histories: BagHistories, users: list[int]) -> np.ndarray:
    """User vectors (U, D) of each user's newest `cap` rated items, as training made them."""
    row_of = {u: i for i, u in enumerate(histories.user_ids.tolist())}
    with torch.no_grad():
        bags = torch.as_tensor(histories.items[[row_of[u] for u in users]])
        return model.users(bags).numpy()


def serving_queries(
    model: ItemBag, vocab: ItemVocab, fit: Rows, users: list[int], cap: int
) -> np.ndarray:
    """User vectors (U, D) as a Recall replica makes them from the online store: the profile's
    MAX_RECENT_ITEMS newest positives first, then the unordered seen set."""
    bag = HistoryBagVectors(model.input_vectors().numpy(), vocab.item_ids, cap)
    seen = _seen(fit)
    queries = []
    for u in users:
        recent = [i for _, i, r in reversed(seen[u]) if r >= 4][:MAX_RECENT_ITEMS]
        profile = UserProfile(user_id=u, user_recent_items=recent)
        vector = bag.vector(profile, {i for _, i, _ in seen[u]})
        queries.append(np.zeros(model.input_vectors().shape[1]) if vector is None else vector)
    return np.stack(queries)


def bag_lists(
    model: ItemBag, vocab: ItemVocab, queries: np.ndarray, fit: Rows, users: list[int]
) -> dict[int, list[int]]:
    """Top-50 of every user by inner product of their vector and the unit F rows."""
    scores = queries @ model.item_vectors().numpy().T
    seen = _seen(fit)
    for row, u in enumerate(users):
        rows = vocab.encode(np.asarray([i for _, i, _ in seen[u]]))
        scores[row, rows[rows >= 0]] = -np.inf
    top = np.argsort(-scores, axis=1)[:, :50]
    return {u: vocab.item_ids[top[row]].tolist() for row, u in enumerate(users)}


def als_lists(peers: ModuleType, fit: Rows, users: list[int]) -> dict[int, list[int]]:
    from implicit.als import AlternatingLeastSquares

    shape = (max(r[0] for r in fit) + 1, max(r[1] for r in fit) + 1)
    params = {"factors": 64, "regularization": 0.1, "iterations": 20}
    return peers.fit_recs(AlternatingLeastSquares, params, fit, users, shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--batch-size", type=int, default=32, help="users a batch")
    parser.add_argument("--sampled", type=int, default=512, help="-1: full softmax")
    parser.add_argument("--power", type=float, default=0.75)
    parser.add_argument("--target-fraction", type=float, default=0.5)
    parser.add_argument("--cap", type=int, default=200)
    parser.add_argument("--inputs", choices=("all", "positive"), default="all")
    parser.add_argument("--targets", choices=("all", "positive"), default="positive")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-als", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)

    peers = load_peers(PEERS)
    train, _ = peers.split(peers.load(args.data), 0.8, True)
    fit, validation = peers.split(train, FIT_FRACTION, True)
    _, positives = peers.positives(fit, validation)
    users = sorted(positives)
    print(
        f"validation carve: {len(users)} users, {sum(map(len, positives.values()))} positives",
        flush=True,
    )
    if not args.no_als:
        recall, ndcg = peers.score(als_lists(peers, fit, users), positives)
        print(f"ALS       Recall@50 {recall:.4f}  NDCG@10 {ndcg:.4f}", flush=True)
    started = time.perf_counter()
    model, histories, vocab = train_item_bag(fit, args)
    seconds = time.perf_counter() - started
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "no_als", "verbose")}
    print(f"item_bag trained in {seconds:.0f}s: {settings}")
    routes = {
        "training order": training_queries(model, histories, users),
        "as served": serving_queries(model, vocab, fit, users, args.cap),
    }
    for route, queries in routes.items():
        recall, ndcg = peers.score(bag_lists(model, vocab, queries, fit, users), positives)
        print(f"item_bag ({route})  Recall@50 {recall:.4f}  NDCG@10 {ndcg:.4f}", flush=True)


if __name__ == "__main__":
    main()
