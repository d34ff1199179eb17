"""Bad-input benchmark: how long refusing the fuzz run's slowest inputs takes (issue 17).

.venv/bin/python -m bench.bench_bad_input [--repeat 5]

Each figure is the median wall time of one request through the app (test client, SQLite, the
real JSON provider and area parser) or of one `parse_area` call, with the answer it gave.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alerting import create_app
from alerting.areas import AreaError, parse_area
from alerting.auth import create_api_key
from alerting.config import Settings
from alerting.migrate import upgrade


def star(vertices: int, decimals: int | None = None) -> dict:
    ring = []
    for i in range(vertices):
        r = 0.02 if i % 2 else 0.01
        a = 2 * math.pi * i / vertices
        lon, lat = 5.32 + r * math.cos(a), 60.39 + r * math.sin(a)
        ring.append([round(lon, decimals), round(lat, decimals)] if decimals else [lon, lat])
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def line_polygon(vertices: int) -> dict:
    ring = [[5.0 + i * 1e-7, 60.0] for i in range(vertices)] + [[5.0, 61.0], [5.0, 60.0]]
    return {"type": "Polygon", "coordinates": [ring]}


def timed(repeat: int, call: Callable[[], str]) -> tuple[float, str]:
    runs, answer = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        answer = call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="alerting-bench-bad-"))
    settings = Settings.from_env(root).replace(database_url=f"sqlite:///{root / 'bench.db'}")
    app = create_app(settings)
    upgrade(app.extensions["alerting.engine"])
    with app.app_context():
        session = app.extensions["alerting.sessionmaker"]()
        _row, key = create_api_key(session, "bench", "viewer")
        session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limit = settings.max_area_vertices

    def post(area_text: str) -> Callable[[], str]:
        body = f'{{"area": {area_text}}}'

        def call() -> str:
            response = client.post("/api/v1/areas/preview", data=body, headers=headers)
            answer = response.json.get("error") or f"{response.json['residents']} residents"
            return f"{response.status_code} {answer}"

        return call

    def parse(area_text: str) -> Callable[[], str]:
        def call() -> str:
            try:
                return parse_area(area_text, max_vertices=limit).geom_type
            except AreaError as exc:
                return f"AreaError {exc.error}"

        return call

    cases = [
        ("1,000,000-vertex polygon", json.dumps(line_polygon(1_000_000))),
        ("200,000-vertex star, 4 decimals", json.dumps(star(200_000, 4))),
        ("200,000-vertex star, full precision", json.dumps(star(200_000))),
        (f"{limit - 1:,}-vertex star (at the limit: accepted)", json.dumps(star(limit - 1))),
        ("JSON nested 990 deep", "[" * 990 + "]" * 990),
    ]
    print(f"# median of {args.repeat}; MAX_AREA_VERTICES={limit:,}")
    print("| input | body | POST /api/v1/areas/preview | parse_area |")
    print("|---|---|---|---|")
    for name, text in cases:
        http_s, http_answer = timed(args.repeat, post(text))
        parse_s, parse_answer = timed(args.repeat, parse(text))
        print(
            f"| {name} | {len(text) / 1e6:.1f} MB | {http_s * 1000:,.1f} ms ({http_answer}) "
            f"| {parse_s * 1000:,.1f} ms ({parse_answer}) |"
        )


if __name__ == "__main__":
    main()
