"""The item-item models beside the item bag, fitted in closed form on rated rows: EASE's item-CF
weights (`item_cf.py`) and the item transitions (`transitions.py`), rows in the bag's
vocabulary. Full training fits them on every rated row; the online update refits them on the
rows before its window, so that items new to the bag get weights too."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from core.settings import Settings
from recall_service.models.item_cf import ItemCFWeights
from recall_service.training.item_cf import fit_item_cf
from recall_service.training.transitions import fit_transitions
from recall_service.training.vocab import ItemVocab

logger = logging.getLogger(__name__)


def fit_item_item(
    settings: Settings, rated: pa.Table, vocab: ItemVocab
) -> tuple[ItemCFWeights | None, ItemCFWeights | None]:
    """(item-CF weights, transitions) over the rated rows (user_id, item_id, ts) whose item
    `vocab` holds; None for a part the settings switch off."""
    known = _KnownRows.of(rated, vocab)
    return _fit_item_cf(settings, known), _fit_transitions(settings, known)


@dataclass(frozen=True)
class _KnownRows:
    """The rated rows whose item the bag's vocabulary holds: users, item rows and times (N,),
    and the vocabulary's size."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    num_items: int

    @classmethod
    def of(cls, rated: pa.Table, vocab: ItemVocab) -> _KnownRows:
        items = vocab.encode(rated["item_id"].to_numpy())
        known = items >= 0
        return cls(
            users=rated["user_id"].to_numpy()[known],
            items=items[known],
            times=rated["ts"].to_numpy()[known],
            num_items=len(vocab),
        )


def _fit_item_cf(settings: Settings, rows: _KnownRows) -> ItemCFWeights | None:
    """Item-CF weights over every rated (user, item) pair, rows in the bag's vocabulary; None
    when switched off (`item_cf_items` 0)."""
    params = settings.item_bag
    if params.item_cf_items == 0:
        return None
    weights = fit_item_cf(
        rows.users,
        rows.items,
        rows.num_items,
        params.item_cf_items,
        params.item_cf_regularisation,
        params.item_cf_neighbours,
    )
    logger.info("item_cf: weights for %d items", np.count_nonzero(np.diff(weights.indptr)))
    return weights


def _fit_transitions(settings: Settings, rows: _KnownRows) -> ItemCFWeights | None:
    """Item transitions over every rated row in time order, rows in the bag's vocabulary; None
    when switched off (`transition_window` 0)."""
    params = settings.item_bag
    if params.transition_window == 0:
        return None
    return fit_transitions(
        rows.users,
        rows.items,
        rows.times,
        rows.num_items,
        params.transition_window,
        params.transition_decay,
        params.transition_neighbours,
    )
