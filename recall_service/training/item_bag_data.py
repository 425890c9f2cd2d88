"""The item bag's training data: users' histories, leave-one-out batches and the negatives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import torch

from recall_service.training.vocab import ItemVocab


@dataclass(frozen=True)
class BagHistories:
    """Row u of `items` (U, L) holds user `user_ids[u]`'s item rows newest first, at most L of
    them, padded with `pad` (= V, the vocabulary size); `positive` (U, L) flags the positives."""

    user_ids: np.ndarray
    items: np.ndarray
    positive: np.ndarray
    pad: int

    @classmethod
    def from_rows(cls, rows: pa.Table, vocab: ItemVocab, cap: int) -> BagHistories:
        """From rated rows (user_id, item_id, ts, label), each user's newest `cap` kept."""
        users = rows["user_id"].to_numpy()
        ts = rows["ts"].to_numpy().astype(np.int64)
        # Newest first within a user; item id breaks ties so that the order is reproducible.
        order = np.lexsort((rows["item_id"].to_numpy(), -ts, users))
        users = users[order]
        items = vocab.encode(rows["item_id"].to_numpy()[order])
        labels = rows["label"].to_numpy()[order] == 1
        user_ids, starts, counts = np.unique(users, return_index=True, return_counts=True)
        rank = np.arange(len(users)) - np.repeat(starts, counts)
        keep = (rank < cap) & (items >= 0)
        width = max(1, int(min(cap, counts.max(initial=1))))
        row = np.repeat(np.arange(len(user_ids)), counts)[keep]
        matrix = np.full((len(user_ids), width), len(vocab), dtype=np.int64)
        flags = np.zeros((len(user_ids), width), dtype=bool)
        # Unknown items were dropped above, so each user's kept items are re-packed left.
        column = _positions_within(row)
        matrix[row, column] = items[keep]
        flags[row, column] = labels[keep]
        return cls(user_ids=user_ids, items=matrix, positive=flags, pad=len(vocab))

    def lengths(self) -> np.ndarray:
        """How many items each user's history holds, (U,)."""
        return (self.items != self.pad).sum(1)


def leave_out(
    histories: BagHistories,
    users: np.ndarray,
    fraction: float,
    positive_targets: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input bags (B, L'), pair users (P,) and targets (P,) for user rows `users` (B,).

    Each user with two items or more holds out a random `fraction` of their history, at least
    one item and never all: the held-out items (only the positives when `positive_targets`)
    are the targets, the rest is the input, so no target is in its own user's input. L' trims
    columns that are padding for the whole batch.
    """
    rows = histories.items[users].copy()
    lengths = (rows != histories.pad).sum(1)
    held = (rows != histories.pad) & (rng.random(rows.shape) < fraction)
    # Histories are packed left, so position < length is a real item.
    several = np.flatnonzero(lengths >= 2)
    pick = (rng.random(len(several)) * lengths[several]).astype(np.int64)
    other = pick + 1 + (rng.random(len(several)) * (lengths[several] - 1)).astype(np.int64)
    held[several, pick] = True
    held[several, other % lengths[several]] = False
    held[lengths < 2] = False
    eligible = held & histories.positive[users] if positive_targets else held
    pair_users, positions = np.nonzero(eligible)
    targets = rows[pair_users, positions]
    rows[held] = histories.pad
    width = max(1, int(lengths.max(initial=1)))
    return rows[:, :width], pair_users, targets


class CandidateSampler:
    """Negatives for a batch: the distinct items among the batch's own targets and `sampled`
    items drawn from target frequency ** `power`, each with the log of its probability of being
    among them (its log q).

    With about `pairs` targets a batch drawn from frequencies p and N samples from q, item i is
    expected n_i = pairs * p_i + N * q_i times (mixed negative sampling, Yang et al., WWW 2020);
    a candidate counted once is there with probability 1 - exp(-n_i).
    """

    def __init__(
        self, counts: np.ndarray, pairs: float, sampled: int, power: float, device: str = "cpu"
    ) -> None:
        frequency = np.asarray(counts, dtype=np.float64)
        frequency = frequency / frequency.sum()
        drawn = np.power(np.asarray(counts, dtype=np.float64), power)
        drawn = drawn / drawn.sum()
        expected = pairs * frequency + sampled * drawn
        self.sampled = sampled
        self.logq = torch.as_tensor(
            np.log(-np.expm1(-expected)), dtype=torch.float32, device=device
        )
        self.draw_weights = torch.as_tensor(drawn, dtype=torch.float32, device=device)

    def candidates(
        self, targets: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(candidates (C,), their logq (C,), the targets' logq (B,)) for targets (B,)."""
        parts = [targets]
        if self.sampled > 0:
            parts.append(
                torch.multinomial(
                    self.draw_weights, self.sampled, replacement=True, generator=generator
                )
            )
        candidates = torch.unique(torch.cat(parts))
        return candidates, self.logq[candidates], self.logq[targets]


def _positions_within(row: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of the sorted `row`."""
    if len(row) == 0:
        return row
    _, starts, counts = np.unique(row, return_index=True, return_counts=True)
    return np.arange(len(row)) - np.repeat(starts, counts)


def target_counts(histories: BagHistories, positive_targets: bool) -> tuple[np.ndarray, float]:
    """How often each item may be a target, (V,) (plus one, so that every item may be drawn),
    and the mean number of candidate targets a user has."""
    eligible = histories.items != histories.pad
    if positive_targets:
        eligible &= histories.positive
    counts = np.bincount(histories.items[eligible], minlength=histories.pad) + 1
    return counts, float(eligible.sum()) / max(1, len(histories.user_ids))
