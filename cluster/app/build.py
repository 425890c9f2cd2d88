"""`build_app()`: the one Serve application, used by `starling up`, `serve deploy` and KubeRay."""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from cluster.app.event_lander import EventLander
from cluster.app.gateway import Gateway
from cluster.app.learner import Learner
from cluster.control.serve_config import config_path, configured, load_serve_config
from cluster.names import APP_NAME, DEPLOYMENTS
from core.errors import AppStateError
from core.paths import StarlingPaths
from core.registry import ModelKind, ModelNotFoundError, ModelRef, Registry
from core.settings import Settings
from rank_service.serving.deployment import Rank
from recall_service.serving.deployment import Recall
from rerank_service.deployment import Rerank


class NothingToServeError(AppStateError):
    """The registry holds no model of a kind the app needs."""


def serving_config(registry: Registry, kind: str) -> dict[str, str]:
    """The user_config that points a replica at the promoted (or newest) version of `kind`."""
    ref: ModelRef | None = registry.serving(kind)  # type: ignore[arg-type]
    if ref is None:
        raise NothingToServeError(
            f"no {kind} model in {registry.root}; run `starling train {kind}`"
        )
    return {"name": ref.name, "version": ref.version}


def serving_refs(settings: Settings) -> dict[ModelKind, ModelRef]:
    """What Recall and Rank serve: the version the serve config pins in its user_config (which
    `starling models promote` writes), else the registry's serving version."""
    registry = Registry(StarlingPaths.of(settings).registry)
    path = config_path(settings)
    app = load_serve_config(path).app(APP_NAME)
    refs: dict[ModelKind, ModelRef] = {}
    for kind, deployment in DEPLOYMENTS.items():
        pinned = app.deployment(deployment).user_config
        if not pinned:
            refs[kind] = ModelRef(kind=kind, **serving_config(registry, kind))
            continue
        ref = ModelRef(kind=kind, name=pinned["name"], version=pinned["version"])
        try:
            registry.manifest(ref)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"{error} in {registry.root}, which {path} names") from None
        refs[kind] = ref
    return refs


def build_app(args: dict[str, Any]) -> Application:
    """Entry point of the serve config (`import_path`): `args` are Settings fields (e.g. home).
    Replica counts, resources and limits come from the config's deployment options (a
    declarative deploy lays the same file over them again); the registry's serving versions are
    the user_config here, and a deploy replaces them with the config's where it names one."""
    settings = Settings(**args)
    registry = Registry(StarlingPaths.of(settings).registry)
    path = config_path(settings)
    recall = configured(Recall, path, user_config=serving_config(registry, "recall"))
    rank = configured(Rank, path, user_config=serving_config(registry, "rank"))
    return configured(Gateway, path).bind(
        settings,
        recall.bind(settings),
        rank.bind(settings),
        configured(Rerank, path).bind(settings),
        configured(EventLander, path).bind(settings),
        configured(Learner, path).bind(settings),
    )
