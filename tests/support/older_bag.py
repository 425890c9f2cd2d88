"""A serving item bag that has not learnt a home's newest rated rows, nor some of its items: what
the recall model's online update finds after events arrived."""

from __future__ import annotations

import numpy as np

from core.paths import StarlingPaths
from core.registry import ModelManifest, Registry
from core.settings import Settings
from recall_service.training.bag_online_data import bag_update_split, times_ms
from recall_service.training.bag_version import TRAINED_UNTIL, BagVersion
from recall_service.training.item_bag import MODEL, rated_rows
from recall_service.training.publish import publish_item_vectors


def publish_older_bag(
    settings: Settings, newest_share: float = 0.3, unknown_items: int = 10
) -> tuple[ModelManifest, np.ndarray]:
    """Publish and pin, from the home's serving item bag, a version that claims to have learnt
    only the rated rows before the newest `newest_share` of their times and lacks
    `unknown_items` of the items rated after them, before the held-out window (their rows cut
    out); returns it and the ids it lacks."""
    paths = StarlingPaths.of(settings)
    registry = Registry(paths.registry)
    serving = registry.serving("recall")
    assert serving is not None and serving.name == MODEL
    version = BagVersion.load(registry.path(serving))
    rated = rated_rows(paths)
    cutoff = int(np.quantile(times_ms(rated), 1 - newest_share))
    split = bag_update_split(rated, cutoff, settings.online.window_fraction, 1)
    lacking = split.learnt_items[:unknown_items]
    keep = ~np.isin(version.item_ids, lacking)
    older = BagVersion(
        item_ids=version.item_ids[keep],
        inputs=version.inputs[keep],
        outputs=version.outputs[keep],
        params=version.params.model_copy(update={"num_items": int(keep.sum())}),
        item_cf=None,
        transitions=None,
    )
    manifest = registry.manifest(serving)
    published = publish_item_vectors(
        paths,
        MODEL,
        older.item_ids,
        older.outputs,
        dict(manifest.metrics),
        manifest.data_snapshot,
        {**settings.item_bag.model_dump(), TRAINED_UNTIL: cutoff},
        older.write_files,
    )
    registry.promote(published.ref())
    return published, lacking
