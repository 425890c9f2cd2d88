"""The files of a registered item bag version, beside its index: what serving needs to make a
user vector from a history."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

INPUTS_FILE = "item_bag_inputs.npy"
ITEMS_FILE = "item_bag_items.npy"
PARAMS_FILE = "item_bag_params.json"
# Optional: versions trained before item CF, or with it switched off, have none.
ITEM_CF_FILE = "item_cf.npz"
TRANSITIONS_FILE = "transitions.npz"


class BagParams(BaseModel):
    """ItemBag's constructor arguments and the most history items a user vector is made of."""

    num_items: int
    dim: int
    temperature: float
    history_cap: int

    def module_args(self) -> dict[str, Any]:
        """Keyword arguments of ItemBag."""
        return self.model_dump(exclude={"history_cap"})
