"""The EventLander deployment: the app's near-line consumer, landing the live event stream in
the lake for as long as the app runs."""

from __future__ import annotations

import asyncio
import logging
import threading

from ray import serve

from cluster.app.metrics import LandingMetrics
from core.online_catalog import OnlineCatalog
from core.online_store import OnlineStore
from core.paths import StarlingPaths
from core.settings import Settings
from ingest.stream.catalogue_landing import land_catalogue
from ingest.stream.consumer import GROUP, consume_events
from ingest.stream.landing_totals import LandingStatus, LandingTotals

log = logging.getLogger(__name__)


@serve.deployment
class EventLander:
    """Runs `consume_events` every `stream.land_interval_s` on a thread of its own, so that
    posted events and impressions reach the lake (and so training) without anyone running
    `starling events consume`, and the stream stays trimmed; then lands the catalogue entries
    put online (`land_catalogue`).

    Run one replica: the lake takes one writer at a time, and the consumer's fixed name lets a
    replacement replica land the batch its predecessor left pending. A failed round (Redis or
    the lake away) is logged and the next one tries again; `status` shows the last error.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = OnlineStore(settings.resolved_redis_url(), settings.stream.max_len)
        self.totals = LandingTotals(self.store.client, GROUP)
        self.catalogue = OnlineCatalog(self.store.client)
        self.metrics = LandingMetrics()
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-lander", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        paths = StarlingPaths.of(self.settings)
        while not self._stop.is_set():
            try:
                consume_events(self.store, paths.events, paths.quarantine, self.settings.stream)
                land_catalogue(self.catalogue, paths.items, paths.events)
                self.metrics.observe(self.totals.status(self.store.stream.length()))
                self.last_error = None
            except Exception as error:
                # Whatever failed (Redis, the lake), the loop must outlive the round.
                log.exception("landing the event stream failed; the next round tries again")
                self.last_error = f"{type(error).__name__}: {error}"
            self._stop.wait(self.settings.stream.land_interval_s)

    async def status(self) -> LandingStatus:
        """The stream's length and this group's landing totals, with the last round's error."""
        found = await asyncio.to_thread(
            lambda: self.totals.status(self.store.stream.length()).model_copy(
                update={"pending_items": self.catalogue.pending_count()}
            )
        )
        return found.model_copy(update={"last_error": self.last_error})

    def __del__(self) -> None:
        self._stop.set()
