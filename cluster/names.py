"""Names the app's parts share: the Serve application and the deployments that serve models."""

from __future__ import annotations

from core.registry import ModelKind

APP_NAME = "starling"
DEPLOYMENTS: dict[ModelKind, str] = {"recall": "Recall", "rank": "Rank"}
