"""A worker's stop request (SIGTERM), for jobs that hand their work back promptly instead of
running to the end: RQ itself only stops between jobs, and a long drain or send would otherwise
hold a stopping worker for a minute or more."""

from __future__ import annotations

import threading

_requested = threading.Event()


def request() -> None:
    """Called from the worker's SIGTERM handler."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()
