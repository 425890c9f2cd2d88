import pytest
import ray

from core.settings import Settings, TrainSettings
from core.train_scaling import scaling_config


@pytest.mark.parametrize("cluster_gpus", [0, 1])
def test_gpu_training_follows_the_cluster_not_the_driver(
    monkeypatch: pytest.MonkeyPatch, cluster_gpus: int
) -> None:
    # The driver claims a GPU either way: only the cluster's resources may decide.
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 4.0, "GPU": float(cluster_gpus)})
    asked = Settings(train=TrainSettings(use_gpu=True))
    assert scaling_config(asked, "rank mlp").use_gpu is bool(cluster_gpus)
    assert scaling_config(Settings(), "item_bag").use_gpu is False


def test_workers_are_packed_unless_spread_is_asked_for() -> None:
    packed = scaling_config(Settings(train=TrainSettings(workers=2)), "item_bag")
    assert (packed.num_workers, packed.placement_strategy) == (2, "PACK")
    assert packed.resources_per_worker == {"CPU": 0.5}
    spread = Settings(train=TrainSettings(workers=2, placement="SPREAD"))
    assert scaling_config(spread, "rank mlp").placement_strategy == "SPREAD"
    with pytest.raises(ValueError):
        TrainSettings(placement="STRICT_SOMEWHERE")
