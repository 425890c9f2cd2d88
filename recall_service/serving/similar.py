"""Items similar to one item: its nearest neighbours among the item vectors."""

from __future__ import annotations

from core.api import Candidate, SimilarItems
from recall_service.index.item_attributes import ItemFilter
from recall_service.serving.routes import ItemIndex

SIMILAR_ROUTE = "similar"


def similar_items(
    index: ItemIndex, item_id: int, k: int, where: ItemFilter | None, model: str
) -> SimilarItems:
    """The k items nearest to `item_id` (itself left out), best first, only those passing
    `where`; `embedded` is False, with no items, when the item has no vector."""
    found = index.vectors([item_id]).get(item_id)
    if found is None or k <= 0:
        return SimilarItems(item_id=item_id, embedded=found is not None, items=[], model=model)
    # One extra hit, because the item is its own nearest neighbour when it passes the filter.
    hits = index.search(found[None, :], k + 1, where)[0]
    items = [
        Candidate(item_id=item, score=score, routes=[SIMILAR_ROUTE])
        for item, score in hits
        if item != item_id
    ][:k]
    return SimilarItems(item_id=item_id, embedded=True, items=items, model=model)
