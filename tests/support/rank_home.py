"""A rank registry home for unit tests: untrained published versions over synthetic items, and
an in-memory stand-in for the online store's profiles."""

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from core.online_store import UserProfile
from core.registry import Registry
from rank_service.artifacts import save_artifacts
from rank_service.encoding import FeatureEncoder
from rank_service.models import RankModelConfig, build_model
from rank_service.training.synthetic import synthetic_items, synthetic_samples

# A Saturday, 22:15 UTC.
AT_MS = int(datetime(2026, 11, 28, 22, 15, tzinfo=UTC).timestamp() * 1000)


class Profiles:
    """The online store's profiles; records the users of each read."""

    def __init__(self, known: dict[int, UserProfile]) -> None:
        self.known = known
        self.reads: list[list[int]] = []

    def profiles(self, user_ids: list[int]) -> dict[int, UserProfile]:
        self.reads.append(user_ids)
        return {u: self.known[u] for u in user_ids if u in self.known}


def publish(registry: Registry, items: pa.Table, name: str, seed: int, nan: bool = False) -> str:
    """Publish an untrained `name` initialised with `seed` (all weights NaN with `nan`)."""
    encoder = FeatureEncoder.fit(synthetic_samples(items, rows=300, n_users=30))
    config = RankModelConfig(
        name=name, embedding_dim=4, hidden=[8], vocab_sizes=encoder.vocab_sizes()
    )
    torch.manual_seed(seed)
    state = build_model(config).state_dict()
    if nan:
        state = {k: torch.full_like(v, float("nan")) for k, v in state.items()}
    manifest = registry.publish(
        "rank",
        name,
        write=lambda folder: save_artifacts(folder, config, encoder, state),
        metrics={},
        data_snapshot="test",
    )
    return f"{name}/{manifest.version}"


def rank_home(tmp_path: Path) -> tuple[Registry, Path]:
    """A registry with one untrained version (mlp v1) and an item feature folder."""
    items = synthetic_items(60)
    (tmp_path / "items").mkdir()
    pq.write_table(items, tmp_path / "items" / "part-0.parquet")
    (tmp_path / "items" / "_manifest.json").write_text("{}")
    registry = Registry(tmp_path / "registry")
    publish(registry, items, "mlp", seed=0)
    return registry, tmp_path / "items"
