"""What the CLI shows while steps run and once they are done: bars, lines, or JSON."""

from __future__ import annotations

import argparse
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cluster.cli.commands import finish
from cluster.cli.main import main
from cluster.cli.progress import BarWatch, epoch_postfix, summary_line
from cluster.step_progress import StepReport, describe_features, describe_ingest, describe_model
from core.registry import ModelManifest
from ingest.features.job import FeaturesSummary
from ingest.lake.job import IngestSummary


def _manifest() -> ModelManifest:
    return ModelManifest(
        kind="rank",
        name="mlp",
        version="v3",
        metrics={"roc_auc": 0.78123, "log_loss": 0.51234, "accuracy": 0.7},
        data_snapshot="abc",
    )


def test_a_finished_step_reads_as_one_line_with_its_time() -> None:
    ran = StepReport(step="features", ran=True, detail="12 samples", seconds=8.06)
    skipped = StepReport(step="train rank", ran=False, detail="fresh: mlp v3", seconds=0.0)
    assert summary_line(ran) == "✓ features      12 samples (8.1 s)"
    assert summary_line(skipped) == "· train rank    fresh: mlp v3"


def test_a_trained_model_reads_with_its_headline_metrics() -> None:
    assert describe_model(_manifest()) == "mlp v3: ROC AUC 0.7812, log loss 0.5123"


def test_ingest_and_features_read_as_counts_for_people() -> None:
    ingest = IngestSummary(
        source="data",
        kind="movielens-csv",
        rows_read=1200,
        accepted=1000,
        duplicates=150,
        quarantined={"bad rating": 30, "unknown item": 20},
        unreadable_files={},
        items=40,
        lake_rows=5000,
        skipped_files=[],
        notes=[],
        seconds=1.0,
    )
    assert describe_ingest(ingest) == (
        "1,000 events accepted, 50 quarantined, 150 duplicates; the lake holds 5,000"
    )
    features = FeaturesSummary(
        events=31000,
        rating_events=30000,
        train_samples=48000,
        test_samples=12000,
        negative_samples=40000,
        impression_samples=0,
        item_features=400,
        user_features=300,
        sequences=300,
        cutoff=datetime(2024, 5, 1, tzinfo=UTC),
        newest_event=datetime(2024, 6, 1, tzinfo=UTC),
        seconds=3.0,
    )
    line = describe_features(features)
    assert line.startswith("48,000 training and 12,000 test samples (40,000 sampled negatives)")
    assert line.endswith("300 users, 400 movies; test period from 2024-05-01")


def test_an_epoch_shows_its_loss_and_validation_auc() -> None:
    shown = epoch_postfix({"epoch": 2, "loss": 0.51234, "val_roc_auc": 0.7712, "rows": 9})
    assert shown == "loss 0.5123, val AUC 0.7712"
    assert epoch_postfix({"epoch": 1, "loss": 2.0}) == "loss 2.0000"


def test_synth_and_ingest_draw_bars_up_to_their_totals() -> None:
    out = io.StringIO()
    watch = BarWatch(out)
    advance = watch.synth()
    for done in (10_000, 20_000, 30_000):
        advance(done, 30_000)
    with watch.ingest().bar("validating", 200e6, "MB", scale=1e6) as bar:
        bar.advance(120e6)
        bar.advance(80e6)
    shown = out.getvalue()
    assert "synth: 100%" in shown and "30.0k/30.0k" in shown
    assert "ingest: validating: 100%" in shown and "200.0/200.0 [" in shown and "MB/s" in shown


def test_a_step_that_reports_nothing_shows_its_running_time() -> None:
    out = io.StringIO()
    with BarWatch(out).running("features"):
        time.sleep(1.2)
    assert "features: 00:01" in out.getvalue()


def test_a_result_is_a_line_for_people_or_json_with_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest = _manifest()
    finish(argparse.Namespace(json=False), manifest, describe_model(manifest))
    assert capsys.readouterr().out == "mlp v3: ROC AUC 0.7812, log loss 0.5123\n"
    finish(argparse.Namespace(json=True), manifest, describe_model(manifest))
    assert ModelManifest.model_validate(json.loads(capsys.readouterr().out)) == manifest


def test_synth_prints_a_line_and_no_bar_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--users", "20", "--items", "30", "--ratings", "500", "--out", str(tmp_path)]
    assert main(["data", "synth", *flags]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("wrote 500 ratings of 20 users on 30 items")
    assert captured.err == ""
