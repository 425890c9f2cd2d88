"""Stand-ins for the Recaller's index and online store in unit tests: exact cosine search over
a dict of vectors, and users' profiles, histories and the popularity ranking in memory."""

from collections.abc import Sequence

import numpy as np

from core.online_store import UserProfile, UserState
from recall_service.index.item_attributes import ItemFilter
from recall_service.index.milvus import l2_normalise


class FakeIndex:
    """Exact cosine search over a dict of item vectors; filters may only exclude ids."""

    def __init__(self, vectors: dict[int, list[float]]) -> None:
        self.ids = list(vectors)
        self.matrix = l2_normalise(np.array([vectors[i] for i in self.ids], dtype=np.float32))
        self.searches: list[int] = []

    def vectors(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {i: self.matrix[self.ids.index(i)] for i in ids if i in self.ids}

    def search(
        self, vectors: np.ndarray, k: int, where: ItemFilter | None = None
    ) -> list[list[tuple[int, float]]]:
        assert where is None or not where.uses_attributes, "these tests send no genre"
        excluded = where.exclude if where is not None else frozenset()
        self.searches.append(k)
        results = []
        for query in vectors:
            scores = self.matrix @ query
            order = [j for j in np.argsort(-scores) if self.ids[j] not in excluded][:k]
            results.append([(self.ids[j], float(scores[j])) for j in order])
        return results


class FakeStore:
    def __init__(
        self,
        profiles: dict[int, UserProfile],
        seen: dict[int, set[int]],
        popular: list[tuple[int, float]],
    ) -> None:
        self.profiles, self.seen_sets, self.ranking = profiles, seen, popular
        self.live: list[tuple[int, float]] = []

    def user_state(self, user_id: int) -> UserState:
        return UserState(
            profile=self.profiles.get(user_id),
            history=sorted(self.seen_sets.get(user_id, set())),
            snapshot="features-1",
        )

    def popular(self, n: int) -> list[tuple[int, float]]:
        return self.ranking[:n]

    def trending(self, n: int) -> list[tuple[int, float]]:
        return self.live[:n]


# Items 1-4 lie near the x axis, 5-8 near the y axis.
VECTORS = {
    1: [1.0, 0.0],
    2: [1.0, 0.1],
    3: [1.0, 0.3],
    4: [1.0, 0.6],
    5: [0.0, 1.0],
    6: [0.1, 1.0],
    7: [0.3, 1.0],
    8: [0.6, 1.0],
}
POPULAR = [(5, 90.0), (1, 80.0), (6, 70.0), (2, 60.0), (9, 50.0)]
