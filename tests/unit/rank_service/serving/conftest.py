from pathlib import Path

import pytest

from core.registry import Registry
from tests.support.rank_home import rank_home


@pytest.fixture
def home(tmp_path: Path) -> tuple[Registry, Path]:
    """A registry with one untrained version (mlp v1) and an item feature folder."""
    return rank_home(tmp_path)
