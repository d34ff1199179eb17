"""A local stand-in for Twilio's Messages API, spoken on the wire.

The unmodified `twilio` SDK talks to it (`client.api.base_url = server.url`); it answers with
Twilio's JSON and error codes, sends signed status callbacks and inbound SMS webhooks, and
shows what each "phone" received at `/`. Standalone: imports nothing else from `alerting`.
"""

from .config import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, ConfigError, Outcome, SimulatorConfig
from .server import SimulatorServer, make_server, serve, start_in_thread

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "ConfigError",
    "Outcome",
    "SimulatorConfig",
    "SimulatorServer",
    "make_server",
    "serve",
    "start_in_thread",
]
