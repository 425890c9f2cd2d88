"""Each epoch a Ray Train worker reports reaches the CLI's bar while fit() runs."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
import ray.train
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from cluster.cli.progress import BarWatch
from core.train_progress import report_callbacks

pytestmark = pytest.mark.integration
EPOCHS = 3
EPOCH_S = 1.0


def _loop(config: dict[str, Any]) -> None:
    for epoch in range(1, config["epochs"] + 1):
        ray.train.report({"epoch": epoch, "loss": 1.0 / epoch, "val_roc_auc": 0.6 + epoch / 100})
        time.sleep(EPOCH_S)


def _fit(storage: str) -> None:
    TorchTrainer(
        _loop,
        train_loop_config={"epochs": EPOCHS},
        scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(storage_path=storage, name="progress", callbacks=report_callbacks()),
    ).fit()


def _first_seen(out: io.StringIO, text: str, stop: threading.Event, seen: list[float]) -> None:
    while not stop.wait(0.05):
        if text in out.getvalue():
            seen.append(time.monotonic())
            return


def test_every_epoch_shows_its_loss_and_validation_auc(ray_local: None, tmp_path: Any) -> None:
    out = io.StringIO()
    watch = BarWatch(out)
    first_epoch = "loss 1.0000, val AUC 0.6100"
    stop, seen = threading.Event(), []
    looker = threading.Thread(target=_first_seen, args=(out, first_epoch, stop, seen))
    looker.start()
    try:
        with watch.epochs("train rank", EPOCHS):
            _fit(str(tmp_path))
        fit_ended = time.monotonic()
    finally:
        stop.set()
        looker.join()
        watch.close()
    shown = out.getvalue()
    # The first epoch showed while the two after it still ran, not once fit() had returned.
    assert seen and seen[0] < fit_ended - EPOCH_S, shown
    assert f"{EPOCHS}/{EPOCHS}" in shown, shown
    for epoch in range(1, EPOCHS + 1):
        assert f"{epoch}/{EPOCHS}" in shown
    assert "loss 0.3333, val AUC 0.6300" in shown


def test_trainers_add_no_callback_when_nobody_listens() -> None:
    assert report_callbacks() == []
