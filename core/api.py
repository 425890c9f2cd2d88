"""HTTP and inter-deployment contracts of the serving path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.online_store import UserProfile

# Ids land in int64 columns of the lake.
MAX_ID = 2**63 - 1
# Bounds of a request body's lists: a recommendation request names a few items and variants.
MAX_EXCLUDED = 1000
MAX_VARIANTS = 32
MAX_NAME_CHARS = 64
# The recall route of items put online that no features build has seen: Recall names it on
# its candidates, Rerank reserves them a place.
NEW_ARRIVALS_ROUTE = "new"


class RecommendRequest(BaseModel):
    """Body of `POST /recommend`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: int = Field(ge=0, le=MAX_ID)
    k: int = Field(10, ge=1, description="how many items to return (at most Settings.max_k)")
    exclude: list[int] = Field(
        default_factory=list, max_length=MAX_EXCLUDED, description="items not to recommend"
    )
    genre: str | None = Field(
        None,
        max_length=MAX_NAME_CHARS,
        description="context: a genre the user is browsing; cold users get its best items",
    )
    debug: bool = Field(False, description="include the per-stage trace")
    variants: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_VARIANTS,
        description="debugging: force experiment -> variant (needs an admin API key)",
    )

    @field_validator("variants")
    @classmethod
    def _short_names(cls, variants: dict[str, str]) -> dict[str, str]:
        if any(len(name) > MAX_NAME_CHARS for pair in variants.items() for name in pair):
            raise ValueError(f"experiment and variant names have at most {MAX_NAME_CHARS} chars")
        return variants


class Candidate(BaseModel):
    """An item on its way through recall, rank and rerank."""

    item_id: int
    score: float
    routes: list[str] = Field(default_factory=list, description="recall routes that proposed it")
    contributions: dict[str, float] = Field(
        default_factory=dict, description="what each rerank policy added to the score"
    )


class Candidates(BaseModel):
    """Candidates between stages, one list per field, best first.

    Serve pickles every hop between deployments: 300 Candidate models cost about 1.4 ms of
    CPU to pickle and unpickle, these lists 0.06 ms. `contributions` is empty, or has one
    dict per item. `affinity` is empty, or has the recall model `affinity_model`'s user-item
    score of each item (None where it knows the item not), a feature for the ranker. A list of
    Candidate (or of their dicts) validates into this form too.
    """

    item_ids: list[int] = Field(default_factory=list)
    scores: list[float] = Field(default_factory=list)
    routes: list[list[str]] = Field(default_factory=list)
    contributions: list[dict[str, float]] = Field(default_factory=list)
    affinity: list[float | None] = Field(default_factory=list)
    affinity_model: str | None = Field(None, description='e.g. "item_bag:v2"')

    @model_validator(mode="before")
    @classmethod
    def _from_items(cls, data: Any) -> Any:
        if not isinstance(data, list):
            return data
        items = [Candidate.model_validate(c) for c in data]
        return {
            "item_ids": [c.item_id for c in items],
            "scores": [c.score for c in items],
            "routes": [c.routes for c in items],
            "contributions": [c.contributions for c in items],
        }

    @model_validator(mode="after")
    def _aligned(self) -> Candidates:
        n = len(self.item_ids)
        if len(self.scores) != n or len(self.routes) != n:
            raise ValueError("item_ids, scores and routes must align")
        if len(self.contributions) not in (0, n) or len(self.affinity) not in (0, n):
            raise ValueError("contributions and affinity must be empty or align with item_ids")
        return self

    @classmethod
    def of(cls, items: Iterable[Candidate]) -> Candidates:
        return cls.model_validate(list(items))

    def __len__(self) -> int:
        return len(self.item_ids)

    def as_list(self) -> list[Candidate]:
        contributions = self.contributions or [{} for _ in self.item_ids]
        return [
            Candidate(item_id=i, score=s, routes=r, contributions=c)
            for i, s, r, c in zip(
                self.item_ids, self.scores, self.routes, contributions, strict=True
            )
        ]

    def take(self, positions: Iterable[int]) -> Candidates:
        """The items at these positions, in this order."""
        at = list(positions)
        return Candidates(
            item_ids=[self.item_ids[p] for p in at],
            scores=[self.scores[p] for p in at],
            routes=[self.routes[p] for p in at],
            contributions=[self.contributions[p] for p in at] if self.contributions else [],
            affinity=[self.affinity[p] for p in at] if self.affinity else [],
            affinity_model=self.affinity_model,
        )

    def head(self, k: int) -> Candidates:
        return self.take(range(min(k, len(self))))

    def without(self, excluded: set[int]) -> Candidates:
        """These candidates less the excluded items, order kept."""
        return self.take(p for p, item in enumerate(self.item_ids) if item not in excluded)


class StageTrace(BaseModel):
    """What one stage did for one request."""

    stage: str
    candidates_in: int
    candidates_out: int
    ms: float
    model: str | None = Field(None, description="model name and version, e.g. item2vec:v3")
    detail: dict[str, int | float | str] = Field(default_factory=dict)


class StageResult(BaseModel):
    """What a stage deployment returns to the Gateway."""

    candidates: Candidates
    trace: StageTrace


class ProfileLookup(BaseModel):
    """The online store's answer for one user's profile, read once per request and passed down
    the chain so that later stages need not read it again. `profile` None means the store has
    none (a cold user), which differs from nobody having looked (no lookup at all)."""

    profile: UserProfile | None = None

    @property
    def history_len(self) -> int:
        """How many recent items the user has: 0 is a cold start."""
        return len(self.profile.user_recent_items) if self.profile else 0


class RecallResult(StageResult):
    """What the Recall deployment returns: its stage result and the profile it read."""

    user: ProfileLookup


class RecommendedItem(BaseModel):
    item_id: int
    title: str
    genres: list[str]
    score: float
    routes: list[str] | None = Field(None, description="debug: recall routes that proposed it")
    contributions: dict[str, float] | None = Field(
        None, description="debug: what each rerank policy added to the rank score"
    )


class RecommendResponse(BaseModel):
    user_id: int
    items: list[RecommendedItem]
    cold_start: bool = Field(description="true when the user has no history known to Starling")
    degraded: list[str] = Field(
        default_factory=list,
        description="stages that failed or timed out and fell back to the previous stage's "
        "order; `online_store` while the Gateway cannot reach Redis",
    )
    trace: list[StageTrace] | None = None
    request_id: str = Field("", description="names this answer's impressions in the event log")
    variants: dict[str, str] = Field(
        default_factory=dict, description="the user's variant in each running A/B experiment"
    )


class Health(BaseModel):
    status: str = Field(
        description="ok; degraded: Redis is down and /recommend answers from memory; starting"
    )
    deployments: dict[str, str]
    redis: str = Field("up", description="up, or down: the Gateway cannot reach Redis")


class UserHistoryItem(BaseModel):
    item_id: int
    title: str


class UserSummary(BaseModel):
    """`GET /users/{id}`: what Starling knows about a user, computed from their ratings."""

    user_id: int
    rating_count: int
    avg_rating: float
    rating_stddev: float
    favourite_genres: list[str]
    recent_positives: list[UserHistoryItem]


class SimilarItems(BaseModel):
    """What the Recall deployment returns for one item's nearest neighbours."""

    item_id: int
    embedded: bool = Field(description="false when the model has no vector for the item")
    items: list[Candidate]
    model: str = Field(description="model name and version, e.g. item2vec:v3")


class SimilarItem(BaseModel):
    item_id: int
    title: str
    genres: list[str]
    year: int | None
    score: float = Field(description="cosine similarity to the item; 0 for fallback items")


class SimilarResponse(BaseModel):
    """`GET /items/{id}/similar`."""

    item_id: int
    items: list[SimilarItem]
    source: str = Field(
        description="'embedding' (nearest item vectors) or 'genre_popular' when the model has "
        "no vector for the item and popular items of its genre stand in"
    )
    model: str | None = None
