"""One small trained home (synthetic set, item bag, mlp ranker) per test session, copied into
every module and app that only needs some trained home to serve: the pipeline costs a minute
or more on two cores, most of it Ray Train start-up, whatever the data's size. Whoever needs it
first trains it: an app's `starling up` (tests/support/up_process.py) or `fill_small_home` on
the module's Ray."""

from __future__ import annotations

import shutil
from pathlib import Path
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

# Settings(**SMALL_HOME, home=..., redis_url=..., ...) is a home this module can fill: a set
# small enough to train in a minute, large enough for every route to answer.
SMALL_HOME: dict[str, Any] = {
    "data": DataSettings(synth_users=300, synth_items=400, synth_ratings=30_000),
    "train": TrainSettings(workers=1, cpus_per_worker=0.5),
    "item_bag": ItemBagSettings(epochs=10),
    "rank": RankSettings(epochs=1),
}
# The same settings for a `starling up` process.
SMALL_HOME_ENV = {
    "STARLING_DATA__SYNTH_USERS": "300",
    "STARLING_DATA__SYNTH_ITEMS": "400",
    "STARLING_DATA__SYNTH_RATINGS": "30000",
    "STARLING_TRAIN__WORKERS": "1",
    "STARLING_TRAIN__CPUS_PER_WORKER": "0.5",
    "STARLING_ITEM_BAG__EPOCHS": "10",
    "STARLING_RANK__EPOCHS": "1",
}
# What a trained home's copy leaves out: the state of the process that trained it (its Redis,
# Ray and logs), its keys, and a serve config the caller may have written into the new home.
NOT_COPIED = shutil.ignore_patterns(
    "runtime", "redis", "up.log", "keys.json", "site_session.key", "serve_config.yaml"
)


def small_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's trained small home is kept once it exists."""
    return tmp_path_factory.getbasetemp() / "small-trained-home"


def keep_as_template(home: Path, template: Path) -> None:
    """Copy a freshly trained `home` to `template`, whole or not at all."""
    partial = template.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(home, partial, ignore=NOT_COPIED)
    partial.rename(template)


def fill_small_home(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Put the session's small trained home into `settings.home` (made with `SMALL_HOME`'s
    settings; when nobody has trained it yet, this call does, on the Ray the caller
    initialised) and publish its online state to `settings`' Redis."""
    template = small_home_template(tmp_path_factory)
    if not template.is_dir():
        first = template.with_name("small-home-training")
        shutil.rmtree(first, ignore_errors=True)
        run_pipeline(settings.model_copy(update={"home": first}), None, lambda _step: None)
        keep_as_template(first, template)
    shutil.copytree(template, settings.home, dirs_exist_ok=True, ignore=NOT_COPIED)
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
