"""Targeting as it was at an earlier commit against today's, on the same points in one process,
so the ratio shares the machine's noise. By default the earlier one is the uniform grid targeting
had before the Z-order quadtree (commit 28fb989).

    .venv/bin/python -m bench.bench_grid_vs_quadtree --locations 10000000 --spread country \
        [--before COMMIT]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import alerting.targeting as quadtree
from bench.bench_targeting import country_areas, star
from bench.common import EAST, NORTH, SOUTH, WEST, shared_phone
from bench.country import country

BEFORE = "28fb989"  # the last commit with the uniform grid
ROOT = Path(__file__).resolve().parent.parent


def module_at(commit: str = BEFORE):
    """alerting/targeting.py as it was at `commit`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{commit}:alerting/targeting.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="targeting-")) / "targeting_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("targeting_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["targeting_before"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--spread", choices=("even", "country"), default="country")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--before", default=BEFORE, help="the commit to compare with")
    args = parser.parse_args()
    n = args.locations
    if args.spread == "even":
        rng = np.random.default_rng(1)
        lons, lats = rng.uniform(WEST, EAST, n), rng.uniform(SOUTH, NORTH, n)
        areas = [("~2%", star(0.02)), ("~40%", star(0.40))]
    else:
        lons, lats, towns = country(n)
        areas = country_areas(lons, lats, towns)
    residents = [(i, shared_phone(i), i % 33 != 0, "nb") for i in range(1, n + 1)]
    locations = list(zip(range(1, n + 1), lons.tolist(), lats.tolist(), strict=True))
    before = module_at(args.before)
    snapshots = [
        (before, before.build_snapshot(residents, locations, 1)),
        (quadtree, quadtree.build_snapshot(residents, locations, 1)),
    ]
    del residents, locations
    print(f"| {n:,} points, {args.spread} | residents | {args.before} (before) | now | ratio |")
    print("|---|---|---|---|---|")
    for label, area in areas:
        medians, counts = [], []
        for module, snapshot in snapshots:
            counts.append(module.query(snapshot, frozenset(), area).counts["residents"])
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                module.query(snapshot, frozenset(), area).counts  # noqa: B018 - what is timed
                times.append((time.perf_counter() - start) * 1000)
            medians.append(float(np.median(times)))
        assert counts[0] == counts[1], counts
        print(
            f"| {label} | {counts[0]:,} | {medians[0]:.1f} ms | {medians[1]:.1f} ms "
            f"| {medians[0] / medians[1]:.1f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
