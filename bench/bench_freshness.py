"""Freshness benchmark: how soon a change to the register reaches the next preview.

On a register of N locations (default 1,000,000), one process's cache (alerting.targeting):
- the full load (what every change cost before the overlay);
- one resident moved (ORM commit) → the next preview, median and max of 21;
- a 10,000-row import (`import_bytes`) → the next preview, median of 5 imports;
- previews while a background rebuild folds the grown overlay in (their max), and the rebuild
  (with snapshot files in a temporary folder, as the app has them, the rebuild runs in a child
  process; `--no-snapshot-files` rebuilds in a thread of this process instead);
- at the end, the cached count against a plain SQL + Shapely count of the same area.

    .venv/bin/python -m bench.bench_freshness [--locations 1000000] [--database-url URL] \
        [--no-snapshot-files]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from alerting.models import Location
from alerting.register_import import import_bytes
from alerting.snapshot_files import SnapshotStore
from alerting.targeting import Register, load_snapshot
from bench.bench_targeting import plain_sql, star
from bench.common import EAST, NORTH, SOUTH, WEST, fill_register, fresh_database


def timed_ms(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def import_rows(engine, batch: int, rows: int, rng) -> None:
    lats = rng.uniform(SOUTH, NORTH, rows)
    lons = rng.uniform(WEST, EAST, rows)
    lines = "".join(
        f"i{batch}-{k},+4745{batch}{k:05d},{lats[k]:.6f},{lons[k]:.6f}\n" for k in range(rows)
    )
    with Session(engine) as session:
        report = import_bytes(
            session, "batch.csv", f"external_id,phone,lat,lon\n{lines}".encode(), "NO", "nb"
        )
    assert report.imported == rows, report.refused[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench-fresh.db")
    parser.add_argument("--no-snapshot-files", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    area = star(0.02)

    engine = fresh_database(args.database_url)
    start = time.perf_counter()
    fill_register(engine, args.locations)
    print(
        f"# {args.locations:,} locations in {engine.dialect.name}, filled in "
        f"{time.perf_counter() - start:.1f} s"
    )

    folder = Path(tempfile.mkdtemp(prefix="alerting-fresh-"))
    register = Register(engine, store=None if args.no_snapshot_files else SnapshotStore(folder))
    first_ms, _ = timed_ms(lambda: register.target(area))
    with engine.connect() as conn:
        reload_ms, _ = timed_ms(lambda: load_snapshot(conn, 0))
    warm = statistics.median(timed_ms(lambda: register.target(area))[0] for _ in range(21))
    print(f"first preview (full load)         {first_ms:9.1f} ms")
    print(f"full reload of the arrays         {reload_ms:9.1f} ms   (what any change cost before)")
    print(f"warm preview, ~2% polygon         {warm:9.1f} ms")

    moves = []
    with Session(engine) as session:
        ids = rng.choice(args.locations, 21, replace=False) + 1
        for location_id in ids.tolist():
            place = session.get(Location, location_id)
            place.lon, place.lat = float(rng.uniform(WEST, EAST)), float(rng.uniform(SOUTH, NORTH))
            session.commit()
            moves.append(timed_ms(lambda: register.target(area))[0])
    print(
        f"one resident moved → next preview {statistics.median(moves):9.1f} ms median, "
        f"{max(moves):.1f} ms max (21)"
    )

    imports = []
    for batch in range(5):
        import_rows(engine, batch, 10_000, rng)
        imports.append(timed_ms(lambda: register.target(area))[0])
    print(
        f"10,000-row import → next preview  {statistics.median(imports):9.1f} ms median (5), "
        f"overlay now {register._overlay.size:,}"
    )

    # the overlay is past COMPACT_AFTER: a rebuild runs in the background; previews go on
    import_rows(engine, 5, 10_000, rng)
    during = []
    started = time.perf_counter()
    register.target(area)
    while register._rebuild is not None:
        during.append(timed_ms(lambda: register.target(area))[0])
        time.sleep(0.05)
    rebuild_s = time.perf_counter() - started
    print(
        f"previews during the rebuild       {max(during, default=0):9.1f} ms max "
        f"({len(during)} previews over {rebuild_s:.1f} s of rebuilding)"
    )

    cached = register.target(area).counts["residents"]
    exact = plain_sql(engine, area)
    print(f"cached count {cached:,} = SQL + Shapely count {exact:,}: {cached == exact}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
