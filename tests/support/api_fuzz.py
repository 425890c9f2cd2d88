"""Schemathesis over a running app's whole OpenAPI, looking for server errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.running_app import RunningApp


def fuzz_api(
    app: RunningApp, admin_key: str, examples: int, report_dir: Path, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """`examples` generated requests per operation with an admin key (so that every route runs
    its code, not only the 401), checked for 5xx; a JUnit report of the operations tested is
    left in `report_dir`."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "schemathesis.cli", "run", f"{app.url}/openapi.json"),
            *("--checks", "not_a_server_error", "--max-examples", str(examples), "--seed", "6"),
            # Each operation on its own: the stateful phase's chains of calls took a minute of
            # the run's three and add no route the per-operation phases miss.
            *("--phases", "examples,coverage,fuzzing"),
            # Two operations at a time: one generates while the app answers the other.
            *("--workers", "2", "--generation-database", "none", "--no-color"),
            *("--request-timeout", "30", "--header", f"Authorization: Bearer {admin_key}"),
            *("--report", "junit", "--report-dir", str(report_dir)),
            # Valid random bodies for these would really scale the app or swap its models;
            # tests/e2e/test_ops.py covers them with deliberate values.
            *("--exclude-path-regex", "^/admin/(scale|models)"),
        ],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def operations_reported(report_dir: Path) -> str:
    """The JUnit report's text, which names every operation schemathesis tested."""
    return "".join(path.read_text() for path in report_dir.glob("*.xml"))
