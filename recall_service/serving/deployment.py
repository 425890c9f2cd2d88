"""The Recall Serve deployment: a thin shell that loads model versions into a Recaller."""

from __future__ import annotations

import logging
import threading
from typing import Any

from pydantic import BaseModel
from ray import serve

from core.api import RecallResult, SimilarItems
from core.catalog_follower import CatalogFollower
from core.online_catalog import OnlineCatalog
from core.paths import StarlingPaths
from core.redis_breaker import serving_store
from core.registry import Registry
from core.settings import Settings
from recall_service.index.item_attributes import ItemFilter
from recall_service.index.replica import ReplicaIndex, open_replica_index, resolve_ref
from recall_service.registry import recall_model
from recall_service.serving.genre_popularity import GenrePopularity
from recall_service.serving.new_arrivals import NewArrivals
from recall_service.serving.popular_cache import CachedPopularity
from recall_service.serving.recaller import Recaller
from recall_service.serving.similar import similar_items

logger = logging.getLogger(__name__)


class RecallConfig(BaseModel):
    """The deployment's user_config: which recall model version to serve."""

    name: str = "item2vec"
    version: str | None = None


@serve.deployment
class Recall:
    """Serves `recall(user_id)`; `reconfigure` swaps model versions without dropping requests."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._paths = StarlingPaths.of(settings)
        store = serving_store(settings)
        self._store = CachedPopularity(store)
        # Genre rankings change only when features are rebuilt, which redeploys the app.
        self._genres = GenrePopularity.from_item_features(self._paths.item_features)
        # Items put online since then reach the new-arrivals route within a second.
        self._arrivals = NewArrivals.from_item_features(self._paths.item_features)
        self._follower = CatalogFollower(OnlineCatalog(store.client), self._arrivals.add)
        # Serve runs a sync reconfigure in a thread pool: the lock keeps it from closing an
        # index that a request is still searching.
        self._lock = threading.Lock()
        self._loaded: ReplicaIndex | None = None
        self._recaller: Recaller | None = None

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Load {"name": ..., "version": ...} (newest version when none is given). When that
        fails, keep serving the version already loaded, or raise when there is none."""
        try:
            wanted = RecallConfig.model_validate(config)
            registry = Registry(self._paths.registry)
            ref = resolve_ref(registry, wanted.name, wanted.version)
            if self._loaded is not None and self._loaded.ref == ref:
                return
            loaded = open_replica_index(self._settings, self._paths, ref)
            try:
                users = recall_model(ref.name).user_vectors(
                    registry.path(ref),
                    loaded.searcher,
                    self._settings,
                )
            except BaseException:
                loaded.close()
                raise
        except Exception:
            if self._loaded is None:
                raise
            logger.exception("recall could not load %s; still serving %s", config, self._label)
            return
        recaller = Recaller(
            loaded.searcher,
            self._store,
            self._settings,
            loaded.label,
            self._genres,
            users,
            self._arrivals,
        )
        with self._lock:
            old, self._loaded, self._recaller = self._loaded, loaded, recaller
        if old is not None:
            old.close()
        logger.info("recall now serves %s", loaded.label)

    @property
    def _label(self) -> str | None:
        return None if self._loaded is None else self._loaded.label

    async def recall(self, user_id: int, genre: str | None = None) -> RecallResult:
        # Called without awaiting: Milvus Lite's client is not known to be thread-safe, and a
        # request takes milliseconds (the follower reads Redis at most once a second).
        self._follower.poll()
        with self._lock:
            if self._recaller is None:
                raise RuntimeError("no recall model loaded: give the deployment a user_config")
            return self._recaller.recall(user_id, genre)

    async def similar(
        self, item_id: int, k: int, genre: str | None = None, min_year: int | None = None
    ) -> SimilarItems:
        """The k items nearest to `item_id`, optionally only of `genre` / from `min_year` on."""
        where = ItemFilter(genre=genre, min_year=min_year)
        with self._lock:
            if self._loaded is None:
                raise RuntimeError("no recall model loaded: give the deployment a user_config")
            return similar_items(
                self._loaded.searcher,
                item_id,
                k,
                None if where.empty else where,
                self._loaded.label,
            )

    def __del__(self) -> None:
        # Serve calls this when it stops a replica, so the private index copy goes with it.
        # It may run twice (Serve, then the garbage collector) or after a failed __init__.
        loaded, self._loaded = getattr(self, "_loaded", None), None
        if loaded is not None:
            loaded.close()
