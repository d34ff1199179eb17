"""Shared-memory benchmark: what each process on a machine adds for the register's arrays.

K processes (1, then 4) each open the register as a web or worker process does and answer one
preview, all alive at once; each reports the growth of its PSS (proportional set size, from
/proc/self/smaps_rollup: shared pages counted once across the machine) over its start. Run with
the snapshot files (alerting.snapshot_files: every process maps one copy) and without (each
process reads every row from SQL into arrays of its own). The file is written by a first
process before the measurement, as the first process to start on a machine does.

    .venv/bin/python bench/bench_shared_memory.py [--locations 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
from pathlib import Path

from alerting.db import make_engine
from alerting.snapshot_files import SnapshotStore
from alerting.targeting import Register
from bench.bench_targeting import star
from bench.common import fill_register, fresh_database


def pss_kib() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise RuntimeError("no Pss in /proc/self/smaps_rollup")


def child(url: str, folder: str | None, started, ready, done, results) -> None:
    started.wait()  # all imported: shared library pages are split the same before and after
    before = pss_kib()
    engine = make_engine(url)
    register = Register(engine, store=SnapshotStore(Path(folder)) if folder else None)
    register.target(star(0.02))
    ready.wait()  # every process holds its arrays now: shared pages are split between them
    results.put(pss_kib() - before)
    done.wait()


def machine_kib(url: str, folder: str | None, processes: int) -> int:
    ctx = mp.get_context("spawn")
    started, ready, done = (ctx.Barrier(processes + 1) for _ in range(3))
    results = ctx.Queue()
    workers = [
        ctx.Process(target=child, args=(url, folder, started, ready, done, results))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    started.wait()
    ready.wait()
    total = sum(results.get() for _ in workers)
    done.wait()
    for w in workers:
        w.join()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench-memory.db")
    args = parser.parse_args()
    engine = fresh_database(args.database_url)
    fill_register(engine, args.locations)
    folder = tempfile.mkdtemp(prefix="alerting-snapshots-")
    try:
        snapshot = Register(engine, store=SnapshotStore(Path(folder)))
        snapshot.target(star(0.02))  # the first process on the machine writes the file
        size = sum(
            getattr(snapshot._snapshot, n).nbytes
            for n in (
                "xs",
                "ys",
                "loc_resident",
                "codes",
                "resident_ids",
                "resident_phone",
                "resident_language",
                "phones",
            )
        )
        print(
            f"# {args.locations:,} locations in {engine.dialect.name}; "
            f"arrays {size / 2**20:.0f} MiB"
        )
        for label, shared in (("snapshot file (mapped)", folder), ("private arrays", None)):
            one, four = (
                machine_kib(args.database_url, shared, 1),
                machine_kib(args.database_url, shared, 4),
            )
            each = (four - one) / 3 * 1024
            print(
                f"{label:24} 1 process {one / 1024:7.0f} MiB, 4 processes {four / 1024:7.0f} MiB;"
                f" each additional {each / 2**20:6.0f} MiB = {100 * each / size:5.1f}% "
                "of the arrays"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
