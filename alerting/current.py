"""Typed access to what `create_app` attached to the current app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

from alerting.config import Settings

if TYPE_CHECKING:  # the register (shapely, numpy) loads with the app, not with every import
    from alerting.targeting import Register


def settings() -> Settings:
    return current_app.extensions["alerting.settings"]


def register() -> Register:
    return current_app.extensions["alerting.register"]
