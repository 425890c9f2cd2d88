"""A/B experiments: their settings and the deterministic assignment of users to variants.

A user's variant is a hash of the experiment's salt and the user id, so it is sticky across
requests and replicas without any stored state; changing the salt reshuffles everyone.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import InvalidInputError

_NAME = r"^[A-Za-z0-9_.-]+$"


class RerankOverrides(BaseModel):
    """Rerank policy fields a variant changes; a field left unset keeps RerankSettings' value."""

    model_config = ConfigDict(extra="forbid")

    max_per_genre: int | None = Field(None, ge=0)
    mmr_lambda: float | None = Field(None, ge=0, le=1)
    freshness_weight: float | None = Field(None, ge=0)
    freshness_half_life_years: float | None = Field(None, gt=0)
    popularity_debias: float | None = Field(None, ge=0)
    exclude_items: list[int] | None = None
    pinned_items: dict[int, int] | None = None

    def fields_set(self) -> set[str]:
        return set(self.model_dump(exclude_none=True))


class Variant(BaseModel):
    """One arm of an experiment: its share of users and what it changes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    weight: float = Field(gt=0, description="relative share of users; weights need not sum to 1")
    rank_model: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
        description="NAME/VERSION served by the Rank replica pool; unset keeps its own model",
    )
    rerank: RerankOverrides = Field(default_factory=RerankOverrides)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME)
    salt: str = Field(min_length=1, description="hash salt; a new salt reshuffles the users")
    variants: list[Variant] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_variants(self) -> Experiment:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name}: variant names repeat: {names}")
        return self

    def bucket(self, user_id: int) -> float:
        """The user's uniform position in [0, 1) for this experiment."""
        digest = hashlib.sha256(f"{self.salt}:{user_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def assign(self, user_id: int) -> Variant:
        """The variant owning the user's bucket, variants laid end to end by weight."""
        total = sum(v.weight for v in self.variants)
        point = self.bucket(user_id) * total
        for variant in self.variants:
            point -= variant.weight
            if point < 0:
                return variant
        return self.variants[-1]

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


def check_experiments(experiments: list[Experiment]) -> None:
    """Experiments run side by side, so no two may change the same thing for one user."""
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ValueError(f"experiment names repeat: {names}")
    owner: dict[str, str] = {}
    for experiment in experiments:
        touched: set[str] = set()
        for variant in experiment.variants:
            touched |= {f"rerank.{f}" for f in variant.rerank.fields_set()}
            if variant.rank_model:
                touched.add("rank_model")
        for what in touched:
            if what in owner:
                raise ValueError(f"experiments {owner[what]} and {experiment.name} both set {what}")
            owner[what] = experiment.name


class UnknownVariantError(InvalidInputError):
    """A forced variant names an experiment or variant that the settings do not define."""


class Assignment(BaseModel):
    """What a user's variants change for one request."""

    variants: dict[str, str] = Field(default_factory=dict, description="experiment -> variant")
    rank_model: str | None = None
    rerank: RerankOverrides | None = None


def assign(
    experiments: list[Experiment], user_id: int, forced: dict[str, str] | None = None
) -> Assignment:
    """The user's variant in every experiment; `forced` picks variants by name (debugging)."""
    forced = forced or {}
    unknown = set(forced) - {e.name for e in experiments}
    if unknown:
        raise UnknownVariantError(f"no experiment named {sorted(unknown)}")
    variants: dict[str, str] = {}
    rank_model: str | None = None
    rerank: dict[str, object] = {}
    for experiment in experiments:
        if experiment.name in forced:
            variant = experiment.variant(forced[experiment.name])
            if variant is None:
                raise UnknownVariantError(
                    f"experiment {experiment.name} has no variant {forced[experiment.name]!r}"
                )
        else:
            variant = experiment.assign(user_id)
        variants[experiment.name] = variant.name
        rank_model = variant.rank_model or rank_model
        rerank.update(variant.rerank.model_dump(exclude_none=True))
    return Assignment(
        variants=variants,
        rank_model=rank_model,
        rerank=RerankOverrides.model_validate(rerank) if rerank else None,
    )
