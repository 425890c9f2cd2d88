"""The Gateway replica that runs a route, as a typed FastAPI dependency.

Routes kept outside the Gateway class (the ops and auth routers) run only inside a Gateway
replica, as part of its FastAPI app; they reach its state through `CurrentGateway`, which names
the attributes they read. A plain FastAPI app (a test) overrides `current_gateway` instead.
"""

from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends
from ray import serve
from ray.serve.handle import DeploymentHandle

from cluster.app.api_keys import ApiKeys
from cluster.app.catalog import Catalog
from cluster.app.health import HealthCheck
from cluster.app.live_stats import LiveStats
from cluster.app.metrics import GatewayMetrics
from core.online_catalog import OnlineCatalog
from core.online_store import OnlineStore
from core.settings import Settings


@runtime_checkable
class GatewayReplica(Protocol):
    """What routes outside the Gateway class read of the replica running them."""

    settings: Settings
    live: LiveStats
    api_keys: ApiKeys
    metrics: GatewayMetrics
    lander: DeploymentHandle
    catalog: Catalog
    online_catalog: OnlineCatalog
    store: OnlineStore
    health: HealthCheck


async def current_gateway() -> GatewayReplica:
    """The Gateway replica running the route; refused loudly anywhere else, rather than failing
    later on a missing attribute."""
    replica = serve.get_replica_context().servable_object
    if not isinstance(replica, GatewayReplica):
        raise TypeError(f"{type(replica).__name__} is not a Gateway replica")
    return replica


CurrentGateway = Annotated[GatewayReplica, Depends(current_gateway)]
