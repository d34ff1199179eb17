"""Typed access to what `create_app` attached to the current app."""

from __future__ import annotations

from flask import current_app

from alerting.config import Settings
from alerting.targeting import Register


def settings() -> Settings:
    return current_app.extensions["alerting.settings"]


def register() -> Register:
    return current_app.extensions["alerting.register"]
