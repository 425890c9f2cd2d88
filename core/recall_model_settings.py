"""Settings of each embedding recall model (fields of core.settings.Settings)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Item2VecSettings(BaseModel):
    """Skip-gram with negative sampling over users' positive item sequences."""

    dim: int = Field(32, ge=2)
    window: int = Field(5, ge=1)
    negatives: int = Field(5, ge=1)
    epochs: int = Field(5, ge=1)
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(0.01, gt=0)


class DeepWalkSettings(Item2VecSettings):
    """Skip-gram over random walks on the item transition graph of the same sequences."""

    walks_per_item: int = Field(4, ge=1, description="walks started from every item")
    walk_length: int = Field(10, ge=2, description="most items in one walk")
    window: int = Field(3, ge=1)
    epochs: int = Field(2, ge=1)


class TwoTowerSettings(BaseModel):
    """User tower (recent items, genres, activity) and item tower (id, genres, year), trained
    with in-batch negatives and log-q correction on the positive train samples."""

    dim: int = Field(32, ge=2, description="embedding and output dimension of both towers")
    hidden: int = Field(64, ge=1, description="width of each tower's hidden layer")
    temperature: float = Field(0.1, gt=0, description="cosine similarities are divided by it")
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(512, ge=2, description="global batch: the in-batch negatives")
    lr: float = Field(5e-3, gt=0)


class ItemBagSettings(BaseModel):
    """History bag: a user is the mean input embedding of their rated items; trained to give
    held-out items of a history from the rest, by sampled softmax over the batch's targets and
    popularity-sampled items with log-q correction. Defaults chosen on ml-latest-small's
    per-user validation carve (bench/recall_models.py)."""

    dim: int = Field(64, ge=2, description="input and output embedding dimension")
    temperature: float = Field(0.2, gt=0, description="cosine similarities are divided by it")
    history_cap: int = Field(200, ge=2, description="newest rated items that form a user")
    history_half_life: float = Field(
        10.0,
        gt=0,
        description="a user vector weighs each older history item by half every this many items",
    )
    target_fraction: float = Field(
        0.5, gt=0, lt=1, description="share of a history held out as targets each step"
    )
    positive_targets: bool = Field(
        True, description="only positives are targets; every rated item stays an input"
    )
    sampled: int = Field(512, ge=0, description="popularity-sampled negatives a batch")
    sample_power: float = Field(
        0.75, ge=0, description="negatives are drawn from target frequency ** power"
    )
    epochs: int = Field(80, ge=1)
    max_steps: int = Field(
        1500,
        ge=1,
        description="training also ends after this many steps: 80 epochs of ml-latest-small's "
        "users are 1,280, and a larger set need not take 80 passes to learn as much",
    )
    batch_size: int = Field(32, ge=1, description="global batch, in users")
    lr: float = Field(5e-3, gt=0)
    item_cf_items: int = Field(
        20_000,
        ge=0,
        description="the most-rated items that the item-CF weights (EASE, fitted beside the bag) "
        "cover; their dense Gram inverse costs 8 x items^2 bytes; 0 fits none",
    )
    item_cf_weight: float = Field(
        1.0,
        ge=0,
        description="a candidate's affinity is its cosine plus this times its item-CF score, "
        "both on the cosine's scale over the pool (1: the two models weigh alike)",
    )
    item_cf_regularisation: float = Field(
        500.0, gt=0, description="EASE's ridge penalty (100 / 500 / 2000 tried on validation)"
    )
    item_cf_neighbours: int = Field(
        500, ge=1, description="weights kept per item, the largest in magnitude"
    )
    transition_window: int = Field(
        20,
        ge=0,
        description="item transitions count the items that follow an item within this many "
        "places of a user's time-ordered history; 0 fits none",
    )
    transition_decay: float = Field(
        0.9, gt=0, le=1, description="a follower d places on counts decay ** (d - 1)"
    )
    transition_half_life: float = Field(
        3.0,
        gt=0,
        description="the transitions read a history weighing each older item by half every "
        "this many items (the newest items say most about the next ones)",
    )
    transition_weight: float = Field(
        1.0,
        ge=0,
        description="the item-CF score is EASE's plus this times the transitions' score, each "
        "over its own spread across the catalogue",
    )
    transition_neighbours: int = Field(
        500, ge=1, description="followers kept per item, the strongest"
    )
