"""Import benchmark: the demo generator's CSV as a file, imported fresh, then again (unchanged),
the way `alerting residents import FILE` does it; wall time, CPU time (ours + the PostgreSQL
backend's), our peak RSS.

.venv/bin/python -m bench.bench_import [--residents 100000] [--database-url URL] [--repeat 3]
    [--code DIR --label before]

`--code DIR` imports the `alerting` package from another checkout (e.g. `git archive` of an older
commit unpacked in DIR), so that before and after are measured by one command on one machine.
"""

from __future__ import annotations

import argparse
import os
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
    runs: dict[str, list[tuple[float, float, float]]] = {"fresh import": [], "same file again": []}
    for _ in range(args.repeat):
        engine = fresh_database(args.database_url)
        for kind in runs:
            with Session(engine) as session:
                server = _server_cpu(session)
                wall, cpu = time.perf_counter(), time.process_time()
                report = import_file(session, path, "NO", "nb")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                runs[kind].append((wall, cpu, _server_cpu(session, server)))
        engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    name = engine.dialect.name
    code = Path(sys.modules["alerting"].__file__).parent
    print(
        f"# {args.label} ({code}), {name}: {rows:,} rows ({args.residents:,} residents), "
        f"median of {args.repeat}; peak RSS {rss:,.0f} MiB; last report: {report.summary()}"
    )
    for kind, times in runs.items():
        wall, cpu, server = (statistics.median(t[i] for t in times) for i in range(3))
        print(
            f"| {args.label} | {name} | {rows:,} | {kind} | {wall:.1f} s | {rows / wall:,.0f} | "
            f"{cpu:.1f} + {server:.1f} s | {rows / (cpu + server):,.0f} | {rss:,.0f} MiB |"
        )


def _server_cpu(session, since: float = 0.0) -> float:
    """CPU seconds of this session's PostgreSQL backend (same machine), minus `since`; 0 for
    SQLite, whose work is in our own process time already."""
    if session.get_bind().dialect.name != "postgresql":
        return 0.0
    from sqlalchemy import text

    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    session.rollback()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK") - since


if __name__ == "__main__":
    main()
