"""Serving decisions with a record: a judged candidate promoted or refused, and the rollback of
a promotion. Every change goes through `operations.promote`, the hot swap of
`starling models promote`, and every decision is written with `core.decisions`."""

from __future__ import annotations

from cluster.control.deployment_changes import AppNotRunningError
from cluster.control.operations import PromotionRefusedError, app_status, promote
from cluster.control.serve_config import config_path, load_serve_config
from cluster.names import APP_NAME, DEPLOYMENTS
from core.decisions import Decision, list_decisions, record_decision, rollback_target
from core.errors import AppStateError
from core.paths import StarlingPaths
from core.registry import ModelKind, ModelRef, Registry
from core.settings import Settings


class NothingToRollBackError(AppStateError):
    """No recorded decision put the serving version in place."""


def serving_ref(settings: Settings, kind: ModelKind) -> ModelRef | None:
    """What serves `kind`: the running app's version when this process reaches one, else the
    version the serve config pins, else the registry's serving one."""
    deployment = DEPLOYMENTS[kind]
    try:
        running = app_status().deployments.get(deployment)
        config = running.user_config if running is not None else None
    except AppNotRunningError:
        config = None
    if not config:
        config = load_serve_config(config_path(settings)).app(APP_NAME).deployment(deployment)
        config = config.user_config
    if config:
        return ModelRef(kind=kind, name=config["name"], version=config["version"])
    return Registry(StarlingPaths.of(settings).registry).serving(kind)


def carry_out(settings: Settings, decision: Decision) -> Decision:
    """Swap in the version a promotion or rollback names (a refusal changes nothing), then
    record the decision. Replicas that cannot load the version keep the old one, and the
    decision becomes a refusal with their reason."""
    if decision.action != "refused":
        ref = decision.candidate
        try:
            done = promote(settings, decision.kind, ref.name, ref.version)
            decision = decision.model_copy(update={"live": done.live})
        except PromotionRefusedError as error:
            update = {"action": "refused", "reasons": [*decision.reasons, str(error)]}
            decision = decision.model_copy(update=update)
    record_decision(StarlingPaths.of(settings).registry, decision)
    return decision


def rollback(settings: Settings, kind: ModelKind) -> Decision:
    """Serve again the version that served before the decision that put the serving one in
    place, through the same hot swap; recorded as `rolled_back`."""
    serving = serving_ref(settings, kind)
    if serving is None:
        raise NothingToRollBackError(f"no {kind} model serves")
    decisions = list_decisions(StarlingPaths.of(settings).registry, kind)
    target = rollback_target(decisions, serving)
    if target is None:
        raise NothingToRollBackError(
            f"no recorded decision put {kind} {serving.name} {serving.version} in place: "
            "nothing to roll back to (`starling models promote` serves any version)"
        )
    decision = Decision(
        kind=kind,
        action="rolled_back",
        candidate=target,
        serving=serving,
        reasons=[f"rolled back from {serving.name} {serving.version}"],
    )
    return carry_out(settings, decision)
