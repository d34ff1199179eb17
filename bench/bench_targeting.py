"""Targeting benchmark: 1,000,000 locations over 50 × 50 km, 60-vertex polygons over ~2% and ~40%.

Measures, in one run so the ratios share the machine's noise:
- the in-memory grid query (alerting.targeting), warm, median of repeated runs;
- the first query after a register change (reload of the arrays from SQL);
- the same count with plain SQL (bounding box in SQL, exact test in Shapely);
- with PostGIS (ST_Covers over a GiST index) when the extension is installed.

    .venv/bin/python bench/bench_targeting.py [--locations 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import shapely
from shapely.geometry import Polygon
from sqlalchemy import text

from alerting.targeting import Register
from bench.common import EAST, NORTH, SOUTH, WEST, fill_register, fresh_database, median_ms


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
        conn.execute(text("ALTER TABLE locations ADD COLUMN geom geometry(Point, 4326)"))
        conn.execute(text("UPDATE locations SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4326)"))
        conn.execute(text("CREATE INDEX ix_locations_geom ON locations USING gist (geom)"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench.db")
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()

    engine = fresh_database(args.database_url)
    start = time.perf_counter()
    fill_register(engine, args.locations)
    print(
        f"# {args.locations:,} locations in {engine.dialect.name}, "
        f"filled in {time.perf_counter() - start:.1f} s"
    )

    register = Register(engine)
    start = time.perf_counter()
    register.target(star(0.02))
    print(
        f"first query after a register change (loads the arrays): "
        f"{(time.perf_counter() - start) * 1000:.0f} ms"
    )
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX ix_bench_lon_lat ON locations (lon, lat)"))
    has_postgis = engine.dialect.name == "postgresql" and postgis_ready(engine)

    print("| area | residents inside | grid (warm) | plain SQL + Shapely | PostGIS ST_Covers |")
    print("|---|---|---|---|---|")
    for share in (0.02, 0.40):
        area = star(share)
        grid_ms, target = median_ms(lambda a=area: register.target(a), args.repeat)
        sql_ms, sql_count = median_ms(lambda a=area: plain_sql(engine, a), max(5, args.repeat // 3))
        assert sql_count == target.counts["residents"], (sql_count, target.counts)
        gis = "not installed"
        if has_postgis:
            gis_ms, gis_count = median_ms(
                lambda a=area: postgis(engine, a), max(5, args.repeat // 3)
            )
            assert gis_count == target.counts["residents"]
            gis = f"{gis_ms:.1f} ms"
        print(
            f"| {len(area.exterior.coords) - 1}-vertex, {share:.0%} | "
            f"{target.counts['residents']:,} | {grid_ms:.1f} ms | {sql_ms:.1f} ms | {gis} |"
        )


if __name__ == "__main__":
    main()
