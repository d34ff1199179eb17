"""A register spread like a country, for the national-scale benchmarks: a few hundred towns of
Zipf-like sizes (dense centres thinning out), sparse countryside and clusters of cabins, over
southern Norway (5–12° E, 58–64° N). Numpy only, seeded, so every run sees the same register."""

from __future__ import annotations

import math

import numpy as np

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
