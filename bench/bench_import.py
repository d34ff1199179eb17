"""Import benchmark: the demo generator's CSV, imported fresh, then again (all unchanged).

.venv/bin/python -m bench.bench_import [--residents 100000] [--database-url URL] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy.orm import Session

from alerting.demo.register import demo_register_csv
from alerting.register_import import import_bytes
from bench.common import fresh_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/alerting-bench-import.db")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = demo_register_csv(args.residents).encode()
    rows = data.count(b"\n") - 1
    fresh_runs, again_runs = [], []
    for _ in range(args.repeat):
        engine = fresh_database(args.database_url)
        for runs in (fresh_runs, again_runs):
            with Session(engine) as session:
                start = time.perf_counter()
                report = import_bytes(session, "bench.csv", data, "NO", "nb")
                runs.append(time.perf_counter() - start)
        engine.dispose()
    fresh, again = statistics.median(fresh_runs), statistics.median(again_runs)
    print(
        f"# {engine.dialect.name}: {rows:,} rows ({args.residents:,} residents), "
        f"median of {args.repeat}; last report: {report.summary()}"
    )
    print(f"| {engine.dialect.name} | fresh import | {fresh:.1f} s | {rows / fresh:,.0f} rows/s |")
    print(
        f"| {engine.dialect.name} | same file again | {again:.1f} s | {rows / again:,.0f} rows/s |"
    )


if __name__ == "__main__":
    main()
