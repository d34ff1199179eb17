"""`python -m alerting.simulator [--port 8099] [--mps 10] ...`: run the simulator alone.

Every flag overrides the matching SIM_* environment variable (see SimulatorConfig).
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from .config import ConfigError, SimulatorConfig
from .server import serve

FLAGS: dict[str, tuple[type, str]] = {
    "mps": (int, "accepted messages per second per sender, beyond it HTTP 429 (0 = no cap)"),
    "latency_ms": (float, "added to every Messages API answer"),
    "failure_rate": (float, "share of messages ending undelivered/failed (0..1)"),
    "seed": (int, "makes the random draws repeatable"),
    "duplicate_rate": (float, "chance a status callback is sent twice"),
    "reorder_rate": (float, "chance `delivered` is sent before `sent`"),
    "drop_rate": (float, "chance a status callback is never sent"),
    "callback_delay_ms": (float, "delay before each status step (default 100)"),
    "inbound_url": (str, "the app's inbound SMS webhook, for /_sim/inbound"),
    "unsubscribed": (str, "comma-separated numbers answered with 21610"),
    "landlines": (str, "comma-separated numbers answered with 21614"),
    "outcomes": (str, "per-number outcomes: +47...=undelivered:30003,+47...=21610"),
}


def parse_args(argv: Sequence[str] | None = None) -> tuple[str, int, SimulatorConfig]:
    parser = argparse.ArgumentParser(
        prog="python -m alerting.simulator", description="Local Twilio Messages API simulator"
    )
    parser.add_argument("--host", default=os.environ.get("SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIM_PORT", "8099")))
    for name, (kind, text) in FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None, help=text)
    args = parser.parse_args(argv)
    env = dict(os.environ)
    for name in FLAGS:  # flags go through the env parser so lists/outcomes parse the same
        value = getattr(args, name)
        if value is not None:
            env["SIM_" + name.upper()] = str(value)
    try:
        config = SimulatorConfig.from_env(env)
    except ConfigError as exc:
        parser.error(str(exc))
    return args.host, args.port, config


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    host, port, config = parse_args(argv)
    serve(host, port, config)


if __name__ == "__main__":
    main()
