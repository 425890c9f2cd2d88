"""Which rated rows the online update of the item bag learns from and is judged on.

Every rated row after the serving version's TRAINED_UNTIL is new to it. The newest
`window_fraction` of the new rows (by time) is the held-out window: neither model learns it,
and both are judged on whether each window user's new positives come up in their top items,
made of their history before the window. The rest of the new rows is what the candidate learns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import MissingDataError


class NothingNewToLearnError(MissingDataError):
    """Too few rated rows the serving item bag has not learnt to fine-tune and judge one."""


def times_ms(rows: pa.Table) -> np.ndarray:
    """The rows' `ts` in ms since the epoch, (N,)."""
    ts = rows["ts"]
    if pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.timestamp("ms"))
    return ts.cast(pa.int64()).to_numpy()


@dataclass(frozen=True)
class BagUpdateSplit:
    """`history`: the rated rows before the window (what the candidate may learn and what window
    users' histories are); `learnt_users`: the users with new rows there, whom fine-tuning
    trains on, and `learnt_items` their items; `window`: the held-out rows; `new_rows`: the new
    rows before the window."""

    history: pa.Table
    learnt_users: np.ndarray
    learnt_items: np.ndarray
    window: pa.Table
    new_rows: int

    def trained_until_ms(self) -> int:
        """The newest time the candidate learns from."""
        times = times_ms(self.history)
        return int(times.max()) if len(times) else 0


def bag_update_split(
    rated: pa.Table, trained_until_ms: int, window_fraction: float, min_window_rows: int
) -> BagUpdateSplit:
    """Split rated rows (user_id, item_id, ts, label) for an update of a bag that learnt every
    row up to `trained_until_ms`; NothingNewToLearnError when the window would hold fewer than
    `min_window_rows` rows or nothing is left to learn before it."""
    times = times_ms(rated)
    new = np.sort(times[times > trained_until_ms])
    cut = int(len(new) * (1 - window_fraction))
    if len(new) == 0 or len(new) - cut < min_window_rows:
        raise NothingNewToLearnError(
            f"{len(new):,} rated rows are newer than what the serving item bag learnt; the "
            f"newest {window_fraction:g} of them must hold min_window_rows={min_window_rows}"
        )
    window_start = int(new[cut])
    before = times < window_start
    learnt = before & (times > trained_until_ms)
    if not learnt.any():
        raise NothingNewToLearnError(
            "every rated row newer than what the serving item bag learnt falls in the held-out "
            "window: nothing to learn before it"
        )
    return BagUpdateSplit(
        history=rated.filter(pa.array(before)),
        learnt_users=np.unique(rated["user_id"].to_numpy()[learnt]),
        learnt_items=np.unique(rated["item_id"].to_numpy()[learnt]),
        window=rated.filter(pa.array(~before)),
        new_rows=int(learnt.sum()),
    )


@dataclass(frozen=True)
class WindowUsers:
    """For each window user with a history and a new positive: the history's items, newest
    first, and the positives of the window that the history does not hold."""

    histories: list[np.ndarray]
    targets: list[np.ndarray]


def window_users(history: pa.Table, window: pa.Table) -> WindowUsers:
    """The judged users of a split: `history` and `window` are its rated rows."""
    positives = window.filter(pc.equal(window["label"], 1))
    wanted: dict[int, set[int]] = {}
    for user, item in zip(
        positives["user_id"].to_numpy().tolist(),
        positives["item_id"].to_numpy().tolist(),
        strict=True,
    ):
        wanted.setdefault(user, set()).add(item)
    mine = history.filter(pc.is_in(history["user_id"], pa.array(list(wanted), pa.int64())))
    users = mine["user_id"].to_numpy()
    items = mine["item_id"].to_numpy()
    order = np.lexsort((-times_ms(mine), users))
    users, items = users[order], items[order]
    ids, starts = np.unique(users, return_index=True)
    if len(ids) == 0:
        return WindowUsers(histories=[], targets=[])
    histories: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for user, own in zip(ids.tolist(), np.split(items, starts[1:]), strict=True):
        new = np.array(sorted(wanted[user] - set(own.tolist())), dtype=np.int64)
        if len(new):
            histories.append(own)
            targets.append(new)
    return WindowUsers(histories=histories, targets=targets)
