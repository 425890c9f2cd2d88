"""Settings of the online model update (`starling learn`, and the app's Learner on a schedule):
fine-tuning the serving ranker and item bag on what they have not seen, and the gate a
candidate must pass to serve.

Kept apart from core/settings.py, which imports and re-exports them, to keep files short.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class OnlineSettings(BaseModel):
    """How `starling learn` fine-tunes, which window it judges on, and what it tolerates."""

    interval: float = Field(
        0.0,
        ge=0,
        description="seconds between the app's Learner's runs of the online update (and of "
        "`starling learn` left running); 0: the app runs none and `learn` runs once. Off by "
        "default: fine-tuning takes CPU that serving needs on a small machine",
    )
    window_fraction: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="newest share (by time) of the samples the serving model never trained on "
        "that is held out: both models are judged on it, neither trains on it",
    )
    min_window_rows: int = Field(
        100, ge=2, description="fewer held-out rows than this judge nothing: no candidate"
    )
    replay_ratio: float = Field(
        1.0,
        ge=0,
        description="older, already learnt samples drawn per new sample into fine-tuning, so "
        "that the model does not forget what only the old samples taught it; 0 replays none",
    )
    auc_tolerance: float = Field(
        0.005, ge=0, description="the candidate's ROC AUC may be at most this much lower"
    )
    calibration_tolerance: float = Field(
        0.10,
        ge=0,
        description="calibration = mean predicted probability / observed positive rate; the "
        "candidate's distance from 1 may exceed the serving model's by at most this much",
    )
    epochs: int = Field(3, ge=1, description="fine-tuning epochs (the best one is kept)")
    batch_size: int = Field(
        64,
        ge=1,
        description="fine-tuning batch: a few new samples need small batches to take enough "
        "steps (training's 512 moved a synthetic ranker's window AUC by under 0.001)",
    )
    lr: float = Field(2e-3, gt=0, description="fine-tuning learning rate")
    recall_tolerance: float = Field(
        0.005,
        ge=0,
        description="the item bag candidate's Recall@50 on the window may be at most this "
        "much lower",
    )
    recall_steps: int = Field(
        200,
        ge=1,
        description="optimiser steps of the item bag's fine-tuning, over the users with new "
        "events and as many replayed ones",
    )
    recall_lr: float = Field(2e-3, gt=0, description="the item bag's fine-tuning learning rate")
    recall_item_item: bool = Field(
        True,
        description="refit the item-CF weights and transitions at each update of the item bag, "
        "on every rated row before the window, so that items new to the bag get them too "
        "(~20 s at ml-latest-small's 9.7k items; minutes at ml-25m's size, where false keeps "
        "the served version's, and new items get none until `starling train recall`)",
    )
