"""Settings of the data: ingest validation, labels, the time split, popularity, sampled
negatives and the synthetic set (in a module of its own: settings.py was at its line limit)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator


class DataSettings(BaseModel):
    """Ingest, features and samples."""

    label_threshold: float = Field(3.5, description="rating >= threshold is a positive")
    rating_min: float = Field(0.5, description="smallest valid rating")
    rating_max: float = Field(5.0, description="largest valid rating")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="last share of time kept for test")
    popularity_half_life_days: float = Field(365.0, gt=0)
    negatives_per_sample: int = Field(
        2,
        ge=0,
        description="items the user never rated drawn as label-0 samples per rated sample, "
        "train and test; 0 switches sampling off",
    )
    negative_popularity_power: float = Field(
        1.0,
        ge=0,
        description="negatives are drawn with q(item) proportional to the item's rating count "
        "to this power: 1 by popularity, 0 uniform over rated items",
    )
    implicit_rating: float = Field(
        4.0,
        description="the rating a click or a view stands for wherever features need one (user "
        "and item averages, the label rule); at least label_threshold, so both are positives",
    )
    impression_window_s: float = Field(
        1800.0,
        gt=0,
        description="an impression followed within this many seconds by the user's click, view "
        "or rating of its item was acted on; one without becomes a label-0 sample",
    )
    synth_users: int = Field(2000, ge=1)
    synth_items: int = Field(1500, ge=1)
    synth_ratings: int = Field(200_000, ge=1)

    @model_validator(mode="after")
    def _implicit_is_positive(self) -> Self:
        if self.implicit_rating < self.label_threshold:
            raise ValueError(
                f"implicit_rating {self.implicit_rating} is below label_threshold "
                f"{self.label_threshold}: clicks and views would become negatives"
            )
        return self
