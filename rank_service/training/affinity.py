"""The recall affinity of sample rows, point in time: each row's item scored against its user's
history strictly before the row's moment, weighted and capped as serving weighs and caps it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.feature_schema import RECALL_AFFINITY
from core.history_embeddings import AffinitySource, HistoryEmbeddings, unit_rows
from rank_service.training.loss import NEGATIVE


class UserStates:
    """Every user's (unnormalised) vector before each of their rated events and after the last.

    With d = 2 ** (-1 / half_life), the state before a user's m-th event (oldest first) is
    S_m = sum over j < m of d ** (m - 1 - j) * E_j, built for all users at once one history
    position at a time; the newest `cap` items alone make S_m - d ** cap * S_(m - cap), which
    is what serving's capped, recency-weighted sum gives for the same history.
    """

    def __init__(self, embeddings: HistoryEmbeddings, history: pa.Table) -> None:
        users = history.column("user_id").to_numpy()
        ts = history.column("ts").cast(pa.int64()).to_numpy()
        items = history.column("item_id").to_numpy()
        order = np.lexsort((items, ts, users))
        users, self.ts, rows = users[order], ts[order], embeddings.rows(items[order])
        self.users, starts, self.counts = np.unique(users, return_index=True, return_counts=True)
        self.starts = starts
        # User u's states are rows block[u] .. block[u] + counts[u] of `states`.
        self.block = starts + np.arange(len(self.users))
        position = np.arange(len(users)) - np.repeat(starts, self.counts)
        owner = np.repeat(np.arange(len(self.users)), self.counts)
        vectors = np.where((rows >= 0)[:, None], embeddings.inputs[np.maximum(rows, 0)], 0.0)
        decay = 0.5 ** (1.0 / embeddings.half_life)
        dim = embeddings.inputs.shape[1]
        states = np.zeros((len(users) + len(self.users), dim))
        current = np.zeros((len(self.users), dim))
        by_position = np.argsort(position, kind="stable")
        bounds = np.searchsorted(
            position[by_position], np.arange(int(self.counts.max(initial=0)) + 1)
        )
        for m in range(len(bounds) - 1):
            at = by_position[bounds[m] : bounds[m + 1]]
            who = owner[at]
            states[self.block[who] + m] = current[who]
            current[who] = decay * current[who] + vectors[at]
        states[self.block + self.counts] = current
        self.states = self._capped(states, decay, embeddings.cap)

    def _capped(self, states: np.ndarray, decay: float, cap: int) -> np.ndarray:
        index = np.arange(len(states))
        k = index - np.repeat(self.block, self.counts + 1)
        late = k >= cap
        capped = states.copy()
        capped[late] -= decay**cap * states[index[late] - cap]
        return capped

    def at(self, users: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Unit vectors (Q, D) of `users` (Q,) as of strictly before `ts` (Q,, epoch ms); zero
        for a user with no history by then."""
        out = np.zeros((len(users), self.states.shape[1]), dtype=np.float32)
        slot = np.minimum(np.searchsorted(self.users, users), max(len(self.users) - 1, 0))
        known = np.flatnonzero((len(self.users) > 0) & (self.users[slot] == users))
        for u in np.unique(slot[known]):
            queries = known[slot[known] == u]
            own = self.ts[self.starts[u] : self.starts[u] + self.counts[u]]
            before = np.searchsorted(own, ts[queries], side="left")
            out[queries] = self.states[self.block[u] + before]
        return unit_rows(out)


def with_affinity(table: pa.Table, source: AffinitySource | None, history: pa.Table) -> pa.Table:
    """`table` (samples) with its RECALL_AFFINITY column, each row scored by the fold bag that
    never saw its user: null without a source, for an item the bag does not know or a user
    with no earlier rated item in `history` (samples, whose rated rows are the histories)."""
    scores = np.full(table.num_rows, np.nan, dtype=np.float32)
    if source is not None and table.num_rows:
        users = table.column("user_id").to_numpy()
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        items = table.column("item_id").to_numpy()
        rated_rows = _rated(history)
        for bag, rows in source.fold_rows(users):
            scores[rows] = _scores(bag, rated_rows, users[rows], ts[rows], items[rows])
    values = pa.array(scores, mask=np.isnan(scores))
    if RECALL_AFFINITY in table.column_names:
        table = table.drop_columns([RECALL_AFFINITY])
    return table.append_column(RECALL_AFFINITY, values)


def _scores(
    bag: HistoryEmbeddings, history: pa.Table, users: np.ndarray, ts: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """Affinity of each (user, moment, item), NaN where there is none."""
    if len(users) == 0:
        return np.zeros(0, dtype=np.float32)
    own = history.filter(pc.is_in(history.column("user_id"), pa.array(np.unique(users))))
    vectors = UserStates(bag, own).at(users, ts)
    rows = bag.rows(items)
    scores = (vectors * bag.outputs[np.maximum(rows, 0)]).sum(axis=1).astype(np.float32)
    return np.where((rows < 0) | ~vectors.any(axis=1), np.nan, scores)


def affinity_share(table: pa.Table) -> float:
    """Share of rows with an affinity, for the training log."""
    column = table.column(RECALL_AFFINITY)
    return 0.0 if table.num_rows == 0 else 1.0 - pc.sum(pc.is_null(column)).as_py() / table.num_rows


def _rated(samples: pa.Table) -> pa.Table:
    """The rows of real ratings: a sampled negative is no part of anyone's history."""
    if NEGATIVE not in samples.column_names:
        return samples
    return samples.filter(pc.invert(samples.column(NEGATIVE)))


def catalogue_affinity(
    source: AffinitySource | None,
    history: pa.Table,
    users: np.ndarray,
    ts: np.ndarray,
    catalogue: np.ndarray,
) -> list[list[float | None] | None]:
    """Each (user, moment)'s affinity to every catalogue item, as Recall would hand it over
    then; None for a user with no scored history (and for everyone without a source)."""
    out: list[list[float | None] | None] = [None] * len(users)
    if source is None:
        return out
    rated_rows = _rated(history)
    for bag, rows in source.fold_rows(users):
        if len(rows) == 0:
            continue
        own = rated_rows.filter(pc.is_in(rated_rows.column("user_id"), pa.array(users[rows])))
        vectors = UserStates(bag, own).at(users[rows], ts[rows])
        for position, vector in zip(rows.tolist(), vectors, strict=True):
            if vector.any():
                out[position] = bag.affinity(vector, catalogue.tolist())
    return out
