"""RankModelConfig: what it takes to rebuild a ranking module (saved as config.json)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CONFIG_FILE = "config.json"


class RankModelConfig(BaseModel):
    """Model name (a key of `rank_service.models.MODELS`), sizes and hyperparameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    embedding_dim: int = Field(16, ge=2)
    hidden: list[int] = Field(default_factory=lambda: [128, 64])
    vocab_sizes: dict[str, int] = Field(description="rows per embedding table, index 0 included")
    cross_buckets: int = Field(
        2**18, ge=1, description="hash buckets of Wide&Deep's candidate x recent item crosses"
    )
    attention_hidden: int = Field(32, ge=1, description="hidden width of DIN's attention unit")
    logit_offset: float = Field(
        0.0,
        description="added to the module's logits before the sigmoid: the intercept the online "
        "update fits so that a fine-tuned version's probabilities match the newest positive rate "
        "(rank_service.training.recalibrate); it leaves the order of candidates as it is",
    )

    def save(self, folder: Path) -> None:
        (folder / CONFIG_FILE).write_text(json.dumps(self.model_dump(), indent=1))

    @classmethod
    def load(cls, folder: Path) -> RankModelConfig:
        return cls.model_validate_json((folder / CONFIG_FILE).read_text())
