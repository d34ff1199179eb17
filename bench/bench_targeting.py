"""Targeting benchmark: 60-vertex polygons over ~2% and ~40%, on 1,000,000 locations spread
evenly over 50 × 50 km, or (`--spread country`) on a register spread like a country
(bench.country: towns, countryside, cabins) with polygons sized to reach ~2% and ~40% of its
locations, one with a hole and a three-part multipolygon.

Measures, in one run so the ratios share the machine's noise:
- the in-memory grid query (alerting.targeting), warm, median of repeated runs;
- the first query after a register change (reload of the arrays from SQL);
- the same count with plain SQL (bounding box in SQL, exact test in Shapely);
- with PostGIS (ST_Covers over a GiST index) when the extension is installed.

    .venv/bin/python -m bench.bench_targeting [--locations 1000000] [--database-url URL]
    .venv/bin/python -m bench.bench_targeting --spread country --locations 10000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/alerting_bench
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text

from alerting.db import make_engine
from alerting.targeting import Register
from bench.common import (
    EAST,
    NORTH,
    SOUTH,
    WEST,
    fill_points,
    fill_register,
    fresh_database,
    median_ms,
)
from bench.country import KM_LAT, KM_LON, country


def star_at(cx: float, cy: float, radius_km: float, vertices: int = 60) -> Polygon:
    """A wobbly `vertices`-gon of about `radius_km` around (cx, cy) in degrees."""
    ring = []
    for i in range(vertices):
        a = 2 * math.pi * i / vertices
        r = radius_km * (1 + 0.12 * math.sin(5 * a))
        ring.append((cx + r * math.cos(a) * KM_LON, cy + r * math.sin(a) * KM_LAT))
    return Polygon(ring + ring[:1])


def sized(lons, lats, cx: float, cy: float, share: float) -> Polygon:
    """The star around (cx, cy) whose count is about `share` of the points (bisection on the
    radius, counted on a sample)."""
    sample = np.random.default_rng(7).choice(len(lons), min(len(lons), 400_000), replace=False)
    xs, ys = lons[sample], lats[sample]
    lo, hi = 0.1, 2000.0
    for _ in range(30):
        mid = (lo + hi) / 2
        inside = np.count_nonzero(shapely.contains_xy(star_at(cx, cy, mid), xs, ys))
        lo, hi = (mid, hi) if inside / len(xs) < share else (lo, mid)
    return star_at(cx, cy, (lo + hi) / 2)


def country_areas(lons, lats, towns) -> list[tuple[str, object]]:
    """~2% around the largest town, ~40% around the middle of the country, the same with a
    hole, and three ~2% stars around the next towns as one multipolygon."""
    centres = [
        (float(np.median(lons[towns == t])), float(np.median(lats[towns == t]))) for t in range(4)
    ]
    small = sized(lons, lats, *centres[0], 0.02)
    mid = (float(np.median(lons)), float(np.median(lats)))
    large = sized(lons, lats, *mid, 0.40)
    hole = sized(lons, lats, *mid, 0.05)
    with_hole = Polygon(large.exterior.coords, [hole.exterior.coords])
    parts = MultiPolygon([sized(lons, lats, *c, 0.007) for c in centres[1:]])
    return [
        ("60-vertex, ~2%", small),
        ("60-vertex, ~40%", large),
        ("60-vertex, ~40% with a hole", with_hole),
        ("multipolygon, 3 × 60-vertex", parts),
    ]


def star(share: float, vertices: int = 60) -> Polygon:
    """A wobbly 60-vertex polygon centred in the register covering about `share` of its area."""
    cx, cy = (WEST + EAST) / 2, (SOUTH + NORTH) / 2
    total = (EAST - WEST) * (NORTH - SOUTH)
    wobble = [1 + 0.12 * math.sin(5 * 2 * math.pi * i / vertices) for i in range(vertices)]
    base = math.sqrt(share * total / (math.pi * np.mean(np.square(wobble))))
    ring = [
        (
            cx + base * w * math.cos(2 * math.pi * i / vertices) * (EAST - WEST) / (NORTH - SOUTH),
            cy + base * w * math.sin(2 * math.pi * i / vertices),
        )
        for i, w in enumerate(wobble)
    ]
    polygon = Polygon(ring + ring[:1])
    scale = math.sqrt(share * total / polygon.area)
    return shapely.affinity.scale(polygon, scale, scale)


def plain_sql(engine, area: Polygon) -> int:
    minx, miny, maxx, maxy = area.bounds
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resident_id, lon, lat FROM locations "
                "WHERE lon BETWEEN :a AND :c AND lat BETWEEN :b AND :d"
            ),
            {"a": minx, "b": miny, "c": maxx, "d": maxy},
        ).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    xs = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    ys = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    return len(np.unique(ids[shapely.intersects_xy(area, xs, ys)]))


def postgis_ready(engine) -> bool:
    with engine.begin() as conn:
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        except Exception:  # noqa: BLE001 - the extension is simply not installed here
            return False
        conn.execute(
            text("ALTER TABLE locations ADD COLUMN IF NOT EXISTS geom geometry(Point, 4326)")
        )
        conn.execute(
            text(
                "UPDATE locations SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)"
                " WHERE geom IS NULL"
            )
        )
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS ix_locations_geom ON locations USING gist (geom)")
        )
        conn.execute(text("ANALYZE locations"))
    return True


def postgis(engine, area: Polygon) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(DISTINCT resident_id) FROM locations "
                "WHERE ST_Covers(ST_GeomFromText(:wkt, 4326), geom)"
            ),
            {"wkt": area.wkt},
        ).scalar_one()


def filled(url: str) -> int:
    """Places in the database at `url`, 0 when it has no register yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM locations")).scalar_one()
    except Exception:  # noqa: BLE001 - no schema yet
        return 0
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench.db")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--spread", choices=("even", "country"), default="even")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database when it already holds --locations places of this --spread",
    )
    parser.add_argument(
        "--without-plain-sql", action="store_true", help="skip the slowest column (10M rows)"
    )
    args = parser.parse_args()

    reuse = args.reuse and filled(args.database_url) == args.locations
    engine = make_engine(args.database_url) if reuse else fresh_database(args.database_url)
    start = time.perf_counter()
    if args.spread == "country":
        lons, lats, towns = country(args.locations)
        areas = country_areas(lons, lats, towns)
        if not reuse:
            fill_points(engine, lons, lats)
        del lons, lats, towns
    else:
        if not reuse:
            fill_register(engine, args.locations)
        areas = [(f"60-vertex, {share:.0%}", star(share)) for share in (0.02, 0.40)]
    print(
        f"# {args.locations:,} locations in {engine.dialect.name}, "
        f"{'reused' if reuse else 'filled'} in {time.perf_counter() - start:.1f} s"
    )

    register = Register(engine)
    start = time.perf_counter()
    register.target(areas[0][1])
    print(
        f"first query after a register change (loads the arrays): "
        f"{(time.perf_counter() - start) * 1000:.0f} ms"
    )
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_bench_lon_lat ON locations (lon, lat)"))
    has_postgis = engine.dialect.name == "postgresql" and postgis_ready(engine)

    print(
        "| area | residents inside | quadtree (warm) | plain SQL + Shapely | PostGIS ST_Covers "
        "| PostGIS ÷ quadtree |"
    )
    print("|---|---|---|---|---|---|")
    for label, area in areas:
        grid_ms, target = median_ms(lambda a=area: register.target(a), args.repeat)
        sql = "skipped"
        if not args.without_plain_sql:
            sql_ms, sql_count = median_ms(
                lambda a=area: plain_sql(engine, a), max(5, args.repeat // 3)
            )
            assert sql_count == target.counts["residents"], (sql_count, target.counts)
            sql = f"{sql_ms:.1f} ms"
        gis, ratio = "not installed", "–"
        if has_postgis:
            gis_ms, gis_count = median_ms(
                lambda a=area: postgis(engine, a), max(5, args.repeat // 3)
            )
            assert gis_count == target.counts["residents"]
            gis, ratio = f"{gis_ms:.1f} ms", f"{gis_ms / grid_ms:.1f}×"
        print(
            f"| {label} | {target.counts['residents']:,} | {grid_ms:.1f} ms | {sql} "
            f"| {gis} | {ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
