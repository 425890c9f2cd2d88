"""Top-N quality: the peers (most-popular, ALS, BPR, EASE) and Starling's /recommend on the same
split and users, in one run.

    .venv/bin/pip install implicit        # the peers' library (ALS, BPR)
    OPENBLAS_NUM_THREADS=2 .venv/bin/python bench/quality.py
    .venv/bin/python bench/quality.py --validation   # score on the training part's carve

Splits as `../shared/tools/peers.py`: per-user (each user's last 20 % of ratings) and global
(the last 20 % of time, users known in training). Positives: rating >= 4 in the held-out part,
unseen in training. `--validation` scores on the last 12.5 % of each training part instead
(peers.py's carve), so that settings can be chosen without looking at the test part.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from quality_metrics import ListMetrics, list_metrics
from quality_peers import FIT_FRACTION, load_peers, peer_lists
from quality_starling import starling_lists

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SPLITS = ("per-user", "global")
STARLING = "Starling /recommend"
COLUMNS = ("recall@50", "ndcg@10", "hit_rate@10", "coverage@10", "novelty@10")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "ml-latest-small")
    parser.add_argument("--peers", type=Path, default=SHARED / "tools" / "peers.py")
    parser.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    parser.add_argument("--validation", action="store_true")
    parser.add_argument(
        "--no-peers", action="store_true", help="most-popular only: a quick run while tuning"
    )
    parser.add_argument("--redis-port", type=int, default=6411)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="train Starling in DIR/<split> and keep it; a later run replays it without training",
    )
    return parser.parse_args()


def _table(split: str, rows: dict[str, ListMetrics], users: int, positives: int) -> str:
    base = rows["most-popular"]
    best_peer = max((n for n in rows if n != STARLING), key=lambda n: rows[n].recall_at_50)
    lines = [
        f"## {split} split: {users} test users, {positives} positives",
        f"{'method':<20}" + "".join(f"{c:>13}" for c in COLUMNS) + "   recall@50 / most-popular",
    ]
    for name, m in sorted(rows.items(), key=lambda kv: -kv[1].recall_at_50):
        values = (m.recall_at_50, m.ndcg_at_10, m.hit_rate_at_10, m.coverage_at_10)
        cells = "".join(f"{v:>13.4f}" for v in values) + f"{m.novelty_at_10:>13.2f}"
        lines.append(f"{name:<20}{cells}   {m.recall_at_50 / base.recall_at_50:.2f}x")
    if STARLING in rows:
        ours, peer = rows[STARLING], rows[best_peer]
        lines.append(
            f"Starling / best peer ({best_peer}): recall@50 "
            f"{ours.recall_at_50 / peer.recall_at_50:.2f}x, ndcg@10 "
            f"{ours.ndcg_at_10 / peer.ndcg_at_10:.2f}x (goal 1.10x), coverage@10 "
            f"{ours.coverage_at_10:.4f} (goal 0.05)"
        )
    return "\n".join(lines)


def run_split(args: argparse.Namespace, split: str, redis_port: int) -> str:
    peers = load_peers(args.peers)
    per_user = split == "per-user"
    rows = peers.load(args.data)
    train, test = peers.split(rows, 0.8, per_user)
    if args.validation:
        train, test = peers.split(train, FIT_FRACTION, per_user)
    _, positives = peers.positives(train, test)
    users = sorted(positives)
    started = time.perf_counter()
    lists = peer_lists(peers, train, users, per_user, fitted=not args.no_peers)
    peer_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="quality-") as scratch:
        work = Path(scratch) if args.keep is None else args.keep / split
        started = time.perf_counter()
        ours = starling_lists(train, args.data, users, work, redis_port)
        starling_seconds = time.perf_counter() - started
    counts = Counter(item for _, item, _, _ in train)
    train_users = len({user for user, _, _, _ in train})
    metrics = {
        name: list_metrics(found, positives, counts, train_users)
        for name, (found, _) in lists.items()
    }
    metrics[STARLING] = list_metrics(ours, positives, counts, train_users)
    chosen = "; ".join(f"{name} {params}" for name, (_, params) in lists.items() if params)
    footer = (
        f"peers' settings (chosen on the training part's carve): {chosen}\n"
        f"time: peers {peer_seconds:.0f} s, Starling (pipeline + replay) {starling_seconds:.0f} s"
    )
    return _table(split, metrics, len(users), sum(map(len, positives.values()))) + "\n" + footer


def main() -> None:
    args = _arguments()
    part = "validation carve of the training part" if args.validation else "test part"
    header = (
        f"# bench/quality.py on {args.data.name}, scored on the {part}; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}"
    )
    sections = [header]
    for index, split in enumerate(args.splits):
        sections.append(run_split(args, split, args.redis_port + index))
        print(sections[-1], flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
