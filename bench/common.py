"""Shared bench helpers: a synthetic register of N locations over 50 × 50 km, and timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from sqlalchemy import Engine, insert, text

from alerting.db import make_engine
from alerting.migrate import upgrade
from alerting.models import Base, Location, Resident

# 50 × 50 km around Bergen: 0.45° of latitude, 0.9° of longitude at 60.4° N
WEST, SOUTH, EAST, NORTH = 4.95, 60.15, 5.85, 60.60


def fresh_database(url: str) -> Engine:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    else:
        Base.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    return engine


def fill_register(engine: Engine, locations: int, seed: int = 1) -> None:
    """One location per resident over 50 × 50 km; every 5th phone shared, 3% fixed lines."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, locations + 1)
    insert_residents(
        engine,
        lons=rng.uniform(WEST, EAST, locations),
        lats=rng.uniform(SOUTH, NORTH, locations),
        phones=[f"+479{(i - i % 5 if i % 5 == 1 else i):07d}" for i in ids],
        reachable=ids % 33 != 0,
    )


def insert_residents(engine: Engine, lons, lats, phones: list[str], reachable=None) -> None:
    """Residents with one home each, numbered after the highest id in the table; bulk inserts."""
    chunk = 20_000
    with engine.begin() as conn:
        first = (conn.scalar(text("SELECT max(id) FROM residents")) or 0) + 1
        for start in range(0, len(phones), chunk):
            rows = range(start, min(start + chunk, len(phones)))
            conn.execute(
                insert(Resident),
                [
                    {
                        "id": first + k,
                        "external_id": f"b{first + k}",
                        "name": "",
                        "phone": phones[k],
                        "reachable": True if reachable is None else bool(reachable[k]),
                        "language": "nb",
                        "source": "import",
                        "declined_categories": [],
                        "paused": False,
                    }
                    for k in rows
                ],
            )
            conn.execute(
                insert(Location),
                [
                    {
                        "resident_id": first + k,
                        "label": "home",
                        "lat": float(lats[k]),
                        "lon": float(lons[k]),
                        "address": "",
                    }
                    for k in rows
                ],
            )
        conn.execute(text("UPDATE register_version SET locations = locations + 1"))


def median_ms(fn: Callable[[], object], repeat: int = 21) -> tuple[float, object]:
    """Median wall time of `repeat` calls after one warm-up call, in milliseconds."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result
