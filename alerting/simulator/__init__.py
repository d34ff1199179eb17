"""A local stand-in for Twilio's Messages API, spoken on the wire.

The unmodified `twilio` SDK talks to it (`client.api.base_url = server.url`); it answers with
Twilio's JSON and error codes, sends signed status callbacks and inbound SMS webhooks, and
shows what each "phone" received at `/`. Standalone: imports nothing else from `alerting`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
    DEFAULT_VONAGE_SIGNATURE_SECRET,
    ConfigError,
    Outcome,
    SimulatorConfig,
)

if TYPE_CHECKING:
    from .server import SimulatorServer, make_server, serve, start_in_thread

_SERVER = {"SimulatorServer", "make_server", "serve", "start_in_thread"}

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "DEFAULT_VONAGE_API_KEY",
    "DEFAULT_VONAGE_API_SECRET",
    "DEFAULT_VONAGE_SIGNATURE_SECRET",
    "ConfigError",
    "Outcome",
    "SimulatorConfig",
    "SimulatorServer",
    "make_server",
    "serve",
    "start_in_thread",
]


def __getattr__(name: str) -> Any:
    """The server (aiohttp, the twilio SDK's signer) is imported when first asked for: the
    app's settings and `alerting --help` need only the defaults."""
    if name in _SERVER:
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
