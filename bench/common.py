"""Shared bench helpers: a synthetic register of N locations over 50 × 50 km, and timing."""

from __future__ import annotations

import io
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
    """One location per resident, spread evenly over 50 × 50 km."""
    rng = np.random.default_rng(seed)
    fill_points(engine, rng.uniform(WEST, EAST, locations), rng.uniform(SOUTH, NORTH, locations))


def fill_points(engine: Engine, lons: np.ndarray, lats: np.ndarray) -> None:
    """A resident at each point; every 5th phone shared, 3% fixed lines. PostgreSQL by COPY
    (10,000,000 rows in minutes), SQLite by bulk inserts."""
    if engine.dialect.name == "postgresql":
        copy_register(engine, lons, lats)
        return
    ids = np.arange(1, len(lons) + 1)
    insert_residents(
        engine,
        lons=lons,
        lats=lats,
        phones=[shared_phone(i) for i in ids.tolist()],
        reachable=ids % 33 != 0,
    )


def shared_phone(i: int) -> str:
    """Resident i's phone: every 5th one shares its neighbour's (a household)."""
    return f"+479{(i - 1 if i % 5 == 1 else i):08d}"


def copy_register(engine: Engine, lons: np.ndarray, lats: np.ndarray, chunk: int = 500_000) -> None:
    """Residents with one home each, by COPY (PostgreSQL): every 5th phone shared by two
    residents, 3% fixed lines (unreachable by SMS), as bench.common.fill_points."""

    n = len(lons)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, n, chunk):
            ids = np.arange(start + 1, min(start + chunk, n) + 1)
            residents = io.StringIO()
            for i in ids.tolist():
                reachable = "f" if i % 33 == 0 else "t"
                residents.write(
                    f"{i}\tb{i}\t\t{shared_phone(i)}\t{reachable}\tnb\timport\t[]\tf\tf\t"
                    "2026-01-01\t2026-01-01\n"
                )
            with cursor.copy(
                "COPY residents (id, external_id, name, phone, reachable, language, source, "
                "declined_categories, paused, exercise_volunteer, created_at, updated_at) "
                "FROM STDIN"
            ) as copy:
                copy.write(residents.getvalue())
            locations = io.StringIO()
            for i, x, y in zip(
                ids.tolist(), lons[ids - 1].tolist(), lats[ids - 1].tolist(), strict=True
            ):
                locations.write(f"{i}\t{i}\thome\t{y!r}\t{x!r}\t\n")
            with cursor.copy(
                "COPY locations (id, resident_id, label, lat, lon, address) FROM STDIN"
            ) as copy:
                copy.write(locations.getvalue())
        cursor.execute("SELECT setval('residents_id_seq', %s)", (n,))
        cursor.execute("SELECT setval('locations_id_seq', %s)", (n,))
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        conn.execute(text("UPDATE register_version SET locations = locations + 1"))
        conn.execute(text("ANALYZE residents"))
        conn.execute(text("ANALYZE locations"))


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
