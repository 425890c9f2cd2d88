"""The ranking feature schema: which sample columns a ranking model sees, and how.

It is the SparrowRecSys feature set (ids, genres, release year, item and user statistics, recent
items, user genres) plus the context of the moment (`core.context`). Models and encoders read it
from here so that training and serving agree.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel

from core.context import DAYS_PER_WEEK, HOURS_PER_DAY
from core.tables import MAX_ITEM_GENRES, MAX_RECENT_ITEMS, MAX_USER_GENRES

Vocab = Literal["item", "user", "genre", "hour", "weekday"]
# Vocabularies known in advance, values 0..size-1, rather than learnt from the train set.
FIXED_VOCABS: dict[str, int] = {"hour": HOURS_PER_DAY, "weekday": DAYS_PER_WEEK}


class CategoricalFeature(BaseModel, frozen=True):
    """An id column (length 1) or a fixed-length list column padded with 0 = unknown."""

    name: str
    vocab: Vocab
    length: int = 1


class NumericFeature(BaseModel, frozen=True):
    """A number, standardised with the train set's mean and stddev after `transform`."""

    name: str
    transform: Literal["none", "log1p"] = "none"


class FeatureSchema(BaseModel, frozen=True):
    """The whole input of a ranking model."""

    categorical: tuple[CategoricalFeature, ...]
    numeric: tuple[NumericFeature, ...]
    label: str = "label"

    def hash(self) -> str:
        """A short stable fingerprint, stored in model manifests to catch schema drift."""
        payload = json.dumps(self.model_dump(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def columns(self) -> list[str]:
        """Sample columns a model needs."""
        return [f.name for f in self.categorical] + [f.name for f in self.numeric]


RANK_FEATURES = FeatureSchema(
    categorical=(
        CategoricalFeature(name="item_id", vocab="item"),
        CategoricalFeature(name="user_id", vocab="user"),
        CategoricalFeature(name="item_genres", vocab="genre", length=MAX_ITEM_GENRES),
        CategoricalFeature(name="user_genres", vocab="genre", length=MAX_USER_GENRES),
        CategoricalFeature(name="user_recent_items", vocab="item", length=MAX_RECENT_ITEMS),
        # Ids, not cyclic sin/cos numerics: a weight and an embedding per value learn any daily
        # or weekly shape (a linear part fits sin/cos to one smooth peak), and only ids enter
        # the FM's pairwise crosses with items and genres; 24 + 7 values are well populated.
        CategoricalFeature(name="hour_of_day", vocab="hour"),
        CategoricalFeature(name="day_of_week", vocab="weekday"),
    ),
    numeric=(
        NumericFeature(name="release_year"),
        NumericFeature(name="item_rating_count", transform="log1p"),
        NumericFeature(name="item_avg_rating"),
        NumericFeature(name="item_rating_stddev"),
        NumericFeature(name="user_rating_count", transform="log1p"),
        NumericFeature(name="user_avg_rating"),
        NumericFeature(name="user_rating_stddev"),
        NumericFeature(name="user_avg_release_year"),
        NumericFeature(name="user_release_year_stddev"),
        # Null before the user's first rating (0 after the encoder); user_rating_count 0 flags it.
        NumericFeature(name="seconds_since_last_event", transform="log1p"),
    ),
)
