"""Fine-tuning a registered ranker with Ray Train: its weights are the start, its vocabularies
grow to the ids the new samples bring, and the best epoch on a validation tail is kept."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pyarrow as pa
import ray.data
import torch
from ray.train import CheckpointConfig, DataConfig, RunConfig
from ray.train.torch import TorchTrainer

from core.paths import StarlingPaths
from core.rank_settings import RankLoss
from core.settings import Settings
from core.train_scaling import scaling_config
from rank_service.artifacts import RankArtifacts
from rank_service.models import RankModel, build_model
from rank_service.training.loss import LossSpec
from rank_service.training.train import TrainRun, fit_trainer
from rank_service.training.train_loop import loop_config, train_loop

logger = logging.getLogger(__name__)


def grown_state(old: dict[str, torch.Tensor], model: RankModel) -> dict[str, torch.Tensor]:
    """`model`'s state dict filled from `old`, the weights of the same model with smaller
    vocabularies: every tensor of the same shape is copied; an embedding table (V_old, D) that
    grew to (V_new, D) keeps its V_old rows exactly (ids keep their indices, see
    `FeatureEncoder.grow`), and each new row starts as the mean of the table's known rows
    1..V_old-1: a typical id rather than the unknown row 0, which training never saw a candidate
    with. Any other difference is an error: the model is not the one `old` came from."""
    state = model.state_dict()
    for name, target in state.items():
        source = old[name]
        if source.shape == target.shape:
            state[name] = source.clone()
            continue
        rows = source.shape[0]
        if source.shape[1:] != target.shape[1:] or target.shape[0] < rows or rows < 2:
            raise ValueError(f"{name}: {tuple(source.shape)} cannot grow to {tuple(target.shape)}")
        grown = source[1:].mean(0, keepdim=True)
        state[name] = torch.cat([source, grown.expand(target.shape[0] - rows, *grown.shape[1:])])
    return state


def grow_artifacts(serving: RankArtifacts, new_rows: pa.Table) -> RankArtifacts:
    """`serving` with vocabularies grown to the ids and genres of `new_rows` (module in train
    mode, on CPU); it scores every id `serving` knows exactly as `serving` does."""
    encoder = serving.encoder.grow(new_rows)
    config = serving.config.model_copy(update={"vocab_sizes": encoder.vocab_sizes()})
    model = build_model(config)
    model.load_state_dict(grown_state(serving.model.state_dict(), model))
    return RankArtifacts(config=config, encoder=encoder, model=model)


def _as_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def fine_tune(
    settings: Settings,
    paths: StarlingPaths,
    serving: RankArtifacts,
    loss: RankLoss,
    train: pa.Table,
    validation: pa.Table,
) -> tuple[RankArtifacts, TrainRun]:
    """Train a copy of `serving`, grown to the new ids, on `train` for up to
    `settings.online.epochs` epochs at `settings.online.lr` with Ray Train, keeping the epoch
    with the best ROC AUC on `validation`. Ray must already be initialised by the caller."""
    grown = grow_artifacts(serving, pa.concat_tables([train, validation]))
    online, rank = settings.online, settings.rank
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=loop_config(
            grown.encoder,
            grown.config,
            online.epochs,
            online.batch_size,
            online.lr,
            settings.train.seed,
            # Every epoch may run: the best one is kept whatever the patience.
            online.epochs,
            LossSpec.for_encoder(loss, grown.encoder),
            initial_weights=_as_bytes(grown.model.state_dict()),
        ),
        scaling_config=scaling_config(settings, f"rank {grown.config.name} online"),
        run_config=RunConfig(
            storage_path=str((paths.runtime / "ray_train").resolve()),
            name=f"rank-{grown.config.name}-online-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
        # In memory already (the driver split them), so no read tasks compete for CPUs.
        datasets={
            "train": ray.data.from_arrow(train),
            "validation": ray.data.from_arrow(validation),
        },
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )
    schedule = {"model": grown.config.name, "epochs": online.epochs, "patience": online.epochs}
    run = fit_trainer(trainer, rank.model_copy(update=schedule))
    model = build_model(grown.config)
    model.load_state_dict(run.state)
    model.eval()
    return RankArtifacts(config=grown.config, encoder=grown.encoder, model=model), run
