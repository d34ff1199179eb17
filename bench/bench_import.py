"""Import benchmark: the demo generator's CSV as a file, imported fresh, then again (unchanged),
the way `alerting residents import FILE` does it; wall time, this process's CPU time, peak RSS.

.venv/bin/python -m bench.bench_import [--residents 100000] [--database-url URL] [--repeat 3]
    [--code DIR --label before]

`--code DIR` imports the `alerting` package from another checkout (e.g. `git archive` of an older
commit unpacked in DIR), so that before and after are measured by one command on one machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench-import.db")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", help="checkout to import `alerting` from (default: this one)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the file, in a child
    args = parser.parse_args()
    if args.write:
        from alerting.demo.register import demo_register_csv

        args.write.write_text(demo_register_csv(args.residents))
        return
    path = Path(f"/tmp/alerting-bench-import-{args.residents}.csv")
    if not path.exists():  # written by a child, so the generator's string is not in our RSS
        subprocess.run(
            [sys.executable, "-m", "bench.bench_import", "--residents", str(args.residents)]
            + ["--write", str(path)],
            check=True,
        )
    if args.code:
        sys.path.insert(0, args.code)
    from sqlalchemy.orm import Session

    from alerting.register_import import import_file
    from bench.common import fresh_database

    with path.open("rb") as f:
        rows = sum(1 for _ in f) - 1
    runs: dict[str, list[tuple[float, float]]] = {"fresh import": [], "same file again": []}
    for _ in range(args.repeat):
        engine = fresh_database(args.database_url)
        for kind in runs:
            with Session(engine) as session:
                wall, cpu = time.perf_counter(), time.process_time()
                report = import_file(session, path, "NO", "nb")
                runs[kind].append((time.perf_counter() - wall, time.process_time() - cpu))
        engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    name = engine.dialect.name
    print(
        f"# {args.label}, {name}: {rows:,} rows ({args.residents:,} residents), median of "
        f"{args.repeat}; peak RSS {rss:,.0f} MiB; last report: {report.summary()}"
    )
    for kind, times in runs.items():
        wall = statistics.median(t for t, _ in times)
        cpu = statistics.median(c for _, c in times)
        print(
            f"| {args.label} | {name} | {rows:,} | {kind} | {wall:.1f} s | {rows / wall:,.0f} | "
            f"{cpu:.1f} s | {rows / cpu:,.0f} | {rss:,.0f} MiB |"
        )


if __name__ == "__main__":
    main()
