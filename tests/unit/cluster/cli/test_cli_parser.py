"""The command line: data commands start without the training stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[4]


def test_parsing_an_ingest_command_does_not_import_torch() -> None:
    # torch's import alone took 1.4 s of every `starling ingest`.
    code = (
        "import sys; from cluster.cli.main import build_parser; "
        "build_parser().parse_args(['ingest', '--source', 'x']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_wrong_recall_model_is_refused_with_the_names_of_the_right_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cluster.cli.main import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["train", "recall", "--model", "nope"])
    assert exit_.value.code == 2
    assert "'item2vec', 'deepwalk', 'two_tower'" in capsys.readouterr().err


def test_eval_recall_takes_the_split_and_other_kinds_refuse_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cluster.cli.main import build_parser, main

    parse = build_parser().parse_args
    assert parse(["eval", "recall"]).split == "global"
    assert parse(["eval", "recall", "--split", "per-user"]).split == "per-user"
    assert main(["eval", "rank", "--split", "per-user", "--home", str(tmp_path)]) == 1
    assert "--split applies to `starling eval recall` only" in capsys.readouterr().err
