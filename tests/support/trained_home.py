"""One small trained home (synthetic set, item bag, mlp ranker) per test session, copied into
every module that only needs some trained home to serve: the pipeline costs a minute or more on
two cores, most of it Ray Train start-up, whatever the data's size."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from cluster.pipeline import run_pipeline
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.registry import Registry
from core.settings import (
    DataSettings,
    ItemBagSettings,
    RankSettings,
    Settings,
    TrainSettings,
)
from ingest.features.online_publish import publish_online

# Settings(**SMALL_HOME, home=..., redis_url=..., ...) is a home this module can fill.
SMALL_HOME: dict[str, Any] = {
    "data": DataSettings(synth_users=150, synth_items=200, synth_ratings=6000),
    "train": TrainSettings(workers=1, cpus_per_worker=0.5),
    "item_bag": ItemBagSettings(dim=16, epochs=2),
    "rank": RankSettings(epochs=1, hidden=[16]),
}
BUILT = "built"


def fill_small_home(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Put the session's small trained home into `settings.home` (made with `SMALL_HOME`'s
    settings; the first call trains it, on the Ray the caller initialised) and publish its online
    state to `settings`' Redis. Ray Train's run folders stay behind."""
    template = tmp_path_factory.getbasetemp() / "small-trained-home"
    if not (template / BUILT).is_file():
        shutil.rmtree(template, ignore_errors=True)
        run_pipeline(settings.model_copy(update={"home": template}), None, lambda _step: None)
        (template / BUILT).touch()
    shutil.copytree(
        template,
        settings.home,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("runtime", BUILT),
    )
    store = OnlineStore(settings.resolved_redis_url())
    publish_online(settings, StarlingPaths.of(settings), store)


def add_identical_rank_version(settings: Settings) -> None:
    """Publish rank mlp v2 as a copy of the home's v1 and keep v1 serving, so that a promotion
    has a version to swap to whose answers are the same."""
    registry = Registry(StarlingPaths.of(settings).registry)
    v1 = registry.latest("rank", "mlp")
    assert v1 is not None and v1.version == "v1"
    registry.publish(
        "rank",
        "mlp",
        write=lambda folder: shutil.copytree(registry.path(v1.ref()), folder, dirs_exist_ok=True),
        metrics=v1.metrics,
        data_snapshot=v1.data_snapshot,
    )
    registry.promote(v1.ref())
