"""What the online updates of the ranker and the item bag share: fresh samples, the serving
version pinned before a candidate is registered, and the result of one update."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from cluster.control.model_decisions import serving_ref
from core.decisions import Decision, list_decisions
from core.errors import MissingDataError
from core.paths import StarlingPaths
from core.registry import ModelKind, ModelManifest, ModelRef, Registry
from core.settings import Settings
from core.storage import is_fresh, read_manifest
from ingest.features.job import build_features, feature_inputs


class LearnResult(BaseModel):
    """What one online update of one model did."""

    decision: Decision
    candidate: ModelManifest
    features_rebuilt: bool
    new_rows: int = Field(description="rows newer than the serving model learnt, learnt now")
    replayed_rows: int = Field(description="older rows (rank) or users (recall) replayed")
    seconds: float


def refresh_samples(settings: Settings, paths: StarlingPaths) -> bool:
    """Rebuild the samples when the lake changed since they were made; True when it did.
    Without a lake, the samples are taken as they are."""
    if read_manifest(paths.events) is None or is_fresh(paths.train_samples, feature_inputs(paths)):
        return False
    build_features(settings, paths)
    return True


def pinned_serving(settings: Settings, registry: Registry, kind: ModelKind) -> ModelRef:
    """What serves `kind`, pinned in the registry: the candidate about to be registered is the
    newest version, which would otherwise serve by default at the next deploy."""
    ref = serving_ref(settings, kind)
    if ref is None:
        raise MissingDataError(f"no {kind} model serves; run `starling train {kind}` first")
    registry.promote(ref)
    return ref


def last_judged_ms(registry: Registry, serving: ModelRef) -> int | None:
    """The newest event time of the windows `serving` was judged on against a candidate: data
    no newer than that would give the same candidate again (a `learn` left running would
    register one per interval)."""
    judged = [d for d in list_decisions(registry.root, serving.kind) if d.serving == serving]
    return max((int(d.window.get("last_ms", 0)) for d in judged), default=None)


def window_info(rows: pa.Table, last_ms: int) -> dict[str, str | int]:
    """A decision's record of its held-out window: first and last time, and its rows."""
    times = rows.column("ts")
    return {
        "first": pc.min(times).as_py().isoformat(),
        "last": pc.max(times).as_py().isoformat(),
        "last_ms": last_ms,
        "rows": rows.num_rows,
    }
