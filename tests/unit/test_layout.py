"""The layering DESIGN.md draws, checked on every module's imports, and the size limits."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
STAGES = {"ingest", "recall_service", "rank_service", "rerank_service"}
# Who may import whom: a package's own modules are always allowed.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    **{stage: {"core"} for stage in STAGES},
    "evaluation": {"core", *STAGES},
    "cluster": {"core", "evaluation", *STAGES},
    "bench": {"core", "evaluation", "cluster", *STAGES},
}
OURS = {*ALLOWED, "tests"}
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 80


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_the_design_allows(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported - ALLOWED[package] - {package})
        for path in _modules(package)
        if (imported := _imported_packages(path)) - ALLOWED[package] - {package}
    }
    assert wrong == {}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_file_or_function_is_over_the_size_limits(package: str) -> None:
    too_long: list[str] = []
    for path in _modules(package):
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}::{node.name}: {lines} lines")
    assert too_long == []
