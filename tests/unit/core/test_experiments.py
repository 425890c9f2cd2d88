from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from core.experiments import (
    Experiment,
    RerankOverrides,
    UnknownVariantError,
    Variant,
    assign,
)
from core.settings import RerankSettings, Settings

RANKERS = Experiment(
    name="rankers",
    salt="2026-11",
    variants=[
        Variant(name="control", weight=0.5),
        Variant(name="deepfm", weight=0.3, rank_model="deepfm/v2"),
        Variant(name="din", weight=0.2, rank_model="din/v1"),
    ],
)
DIVERSITY = Experiment(
    name="diversity",
    salt="d1",
    variants=[
        Variant(name="base", weight=1),
        Variant(name="mmr", weight=1, rerank=RerankOverrides(mmr_lambda=0.5, max_per_genre=2)),
    ],
)


def test_assignment_is_close_to_the_weights_over_10k_users() -> None:
    shares = Counter(RANKERS.assign(user).name for user in range(10_000))
    # 3 standard deviations of a binomial share over 10k users is under 1.5 points.
    assert shares["control"] / 10_000 == pytest.approx(0.5, abs=0.015)
    assert shares["deepfm"] / 10_000 == pytest.approx(0.3, abs=0.015)
    assert shares["din"] / 10_000 == pytest.approx(0.2, abs=0.015)


def test_assignment_is_sticky_and_the_salt_reshuffles() -> None:
    again = Experiment.model_validate(RANKERS.model_dump())
    assert [RANKERS.assign(u).name for u in range(2000)] == [
        again.assign(u).name for u in range(2000)
    ]
    resalted = RANKERS.model_copy(update={"salt": "2026-12"})
    moved = sum(RANKERS.assign(u).name != resalted.assign(u).name for u in range(2000))
    assert moved > 500


def test_two_experiments_assign_independently() -> None:
    pairs = Counter(
        (RANKERS.assign(u).name == "control", DIVERSITY.assign(u).name == "mmr")
        for u in range(10_000)
    )
    assert pairs[(True, True)] / 10_000 == pytest.approx(0.25, abs=0.015)


def test_assignment_combines_what_each_variant_changes() -> None:
    user = next(u for u in range(1000) if RANKERS.assign(u).name == "din")
    forced = assign([RANKERS, DIVERSITY], user, {"diversity": "mmr"})
    assert forced.variants == {"rankers": "din", "diversity": "mmr"}
    assert forced.rank_model == "din/v1"
    applied = RerankSettings().with_overrides(forced.rerank)
    assert (applied.mmr_lambda, applied.max_per_genre) == (0.5, 2)
    assert applied.freshness_weight == RerankSettings().freshness_weight
    assert assign([], user).variants == {}


def test_forcing_an_unknown_experiment_or_variant_is_refused() -> None:
    with pytest.raises(UnknownVariantError, match="nope"):
        assign([RANKERS], 1, {"nope": "x"})
    with pytest.raises(UnknownVariantError, match="'x'"):
        assign([RANKERS], 1, {"rankers": "x"})


def test_settings_refuse_experiments_that_collide_or_are_malformed() -> None:
    other_ranker = RANKERS.model_copy(update={"name": "rankers2"})
    with pytest.raises(ValidationError, match="rank_model"):
        Settings(experiments=[RANKERS, other_ranker])
    with pytest.raises(ValidationError, match="repeat"):
        Settings(
            experiments=[
                {
                    "name": "e",
                    "salt": "s",
                    "variants": [{"name": "a", "weight": 1}, {"name": "a", "weight": 1}],
                }
            ]
        )
    with pytest.raises(ValidationError):
        Settings(experiments=[{"name": "e", "salt": "s", "variants": [{"name": "a", "weight": 0}]}])
    with pytest.raises(ValidationError):
        RerankOverrides(mmr_lambda=2.0)


def test_experiments_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STARLING_EXPERIMENTS", f"[{DIVERSITY.model_dump_json()}]")
    monkeypatch.setenv("STARLING_WRITE_API_KEYS", '["w1", "w2"]')
    settings = Settings()
    assert settings.experiments == [DIVERSITY]
    assert [k.get_secret_value() for k in settings.write_api_keys] == ["w1", "w2"]
    assert "w1" not in repr(settings)
