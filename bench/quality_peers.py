"""The peers of `../shared/tools/peers.py` (most-popular, implicit's ALS and BPR, EASE), each
with that tool's grid chosen on a validation carve of the training part, as lists to score.

The tool is imported from its file, not copied, so the yardstick stays the team's one.
"""

from __future__ import annotations

import collections
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

Rows = list[tuple[int, int, float, int]]
# peers.py's fit/validation carve: the last 12.5 % of the training part.
FIT_FRACTION = 0.875


def load_peers(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("peers", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no peers tool at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grids(peers: ModuleType) -> dict[str, tuple[type, list[dict[str, Any]]]]:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking

    als = [
        {"factors": f, "regularization": g, "iterations": 20}
        for f in (32, 64, 128)
        for g in (0.01, 0.1, 1.0)
    ]
    bpr = [
        {"factors": f, "learning_rate": lr, "regularization": 0.01, "iterations": 200}
        for f in (32, 64, 128)
        for lr in (0.01, 0.05)
    ]
    ease = [{"lam": lam} for lam in (100, 500, 2000)]
    return {
        "ALS": (AlternatingLeastSquares, als),
        "BPR": (BayesianPersonalizedRanking, bpr),
        "EASE": (peers.EASE, ease),
    }


def peer_lists(
    peers: ModuleType, train: Rows, users: list[int], per_user: bool, fitted: bool = True
) -> dict[str, tuple[dict[int, list[int]], dict[str, Any]]]:
    """Each peer's top-50 for `users` fitted on `train`, with the parameters it chose;
    most-popular alone when not `fitted` (a quick run while trying Starling's settings)."""
    shape = (max(r[0] for r in train) + 1, max(r[1] for r in train) + 1)
    fit, validation = peers.split(train, FIT_FRACTION, per_user)
    fit_shape = (max(shape[0], max(r[0] for r in fit) + 1), shape[1])
    _, validation_positives = peers.positives(fit, validation)
    validation_users = sorted(validation_positives)
    out: dict[str, tuple[dict[int, list[int]], dict[str, Any]]] = {}
    for name, (cls, grid) in _grids(peers).items() if fitted else ():

        def validation_recall(params: dict[str, Any], cls: type = cls) -> float:
            lists = peers.fit_recs(cls, params, fit, validation_users, fit_shape)
            return float(peers.score(lists, validation_positives)[0])

        best = max(grid, key=validation_recall)
        out[name] = (peers.fit_recs(cls, best, train, users, shape), best)
    seen = collections.defaultdict(set)
    for user, item, _, _ in train:
        seen[user].add(item)
    ranked = [item for item, _ in collections.Counter(r[1] for r in train).most_common()]
    popular = {u: [i for i in ranked if i not in seen[u]][:50] for u in users}
    out["most-popular"] = (popular, {})
    return out
