"""Schemathesis over the whole OpenAPI of a running app with auth on, 200 examples per
operation: no request, however malformed, gets a server error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.serving.conftest import ADMIN_KEY
from tests.support.api_fuzz import fuzz_api, operations_reported
from tests.support.running_app import RunningApp

pytestmark = pytest.mark.integration


def test_two_hundred_examples_per_operation_find_no_server_error(
    app: RunningApp, tmp_path: Path
) -> None:
    result = fuzz_api(app, ADMIN_KEY, examples=200, report_dir=tmp_path, timeout_s=1500)
    assert result.returncode == 0, result.stdout[-6000:]
    report = operations_reported(tmp_path)
    for operation in ("POST /events", "PUT /items/{item_id}", "POST /recommend", "GET /users"):
        assert f'testcase name="{operation}' in report
