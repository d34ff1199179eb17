"""A register spread like a country, for the national-scale benchmarks: a few hundred towns of
Zipf-like sizes (dense centres thinning out), sparse countryside and clusters of cabins, over
southern Norway (5–12° E, 58–64° N). Numpy only, seeded, so every run sees the same register;
PostgreSQL is filled with COPY (10,000,000 rows in minutes, not the ORM's hours)."""

from __future__ import annotations

import io
import math

import numpy as np
from sqlalchemy import Engine, text

WEST, SOUTH, EAST, NORTH = 5.0, 58.0, 12.0, 64.0
KM_LAT = 1 / 111.0  # degrees of latitude per km
KM_LON = 1 / (111.0 * math.cos(math.radians(61)))  # degrees of longitude per km, mid-range


def country(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lons, lats, town index or -1) of n locations: 75% in towns, 17% countryside, 8% cabins."""
    rng = np.random.default_rng(seed)
    towns = 300
    sizes = 1 / np.arange(1, towns + 1) ** 1.07
    sizes /= sizes.sum()
    centres = np.column_stack(
        (rng.uniform(WEST + 0.5, EAST - 0.5, towns), rng.uniform(SOUTH + 0.3, NORTH - 0.3, towns))
    )
    in_towns, cabins = int(n * 0.75), int(n * 0.08)
    countryside = n - in_towns - cabins
    town = rng.choice(towns, size=in_towns, p=sizes)
    # a town's spread grows with its size (Oslo ~ 8 km, a village ~ 0.5 km), dense at the centre
    spread_km = 0.5 + 40 * np.sqrt(sizes[town])
    r = rng.exponential(spread_km)
    angle = rng.uniform(0, 2 * math.pi, in_towns)
    tx = centres[town, 0] + r * np.cos(angle) * KM_LON
    ty = centres[town, 1] + r * np.sin(angle) * KM_LAT
    fields = rng.uniform((WEST, SOUTH), (EAST, NORTH), size=(60, 2))
    field = rng.integers(0, len(fields), cabins)
    cx = fields[field, 0] + rng.normal(0, 3, cabins) * KM_LON
    cy = fields[field, 1] + rng.normal(0, 3, cabins) * KM_LAT
    sx = rng.uniform(WEST, EAST, countryside)
    sy = rng.uniform(SOUTH, NORTH, countryside)
    lons = np.clip(np.concatenate((tx, cx, sx)), WEST, EAST)
    lats = np.clip(np.concatenate((ty, cy, sy)), SOUTH, NORTH)
    owner_town = np.concatenate((town, np.full(cabins + countryside, -1)))
    order = rng.permutation(n)
    return lons[order], lats[order], owner_town[order]


def copy_register(engine: Engine, lons: np.ndarray, lats: np.ndarray, chunk: int = 500_000) -> None:
    """Residents with one home each, by COPY (PostgreSQL): every 5th phone shared by two
    residents, 3% fixed lines (unreachable by SMS), as bench.common.fill_register."""
    n = len(lons)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, n, chunk):
            ids = np.arange(start + 1, min(start + chunk, n) + 1)
            phones = np.where(ids % 5 == 1, ids - 1, ids)
            residents = io.StringIO()
            for i, phone in zip(ids.tolist(), phones.tolist(), strict=True):
                reachable = "f" if i % 33 == 0 else "t"
                residents.write(
                    f"{i}\tb{i}\t\t+479{phone:08d}\t{reachable}\tnb\timport\t[]\tf\tf\t"
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
