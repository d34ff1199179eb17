"""The receipt path in one process, without HTTP: what the app itself spends per status
callback, apart from the web server, the load generator and the machine's other tenants (CPU
seconds, not wall time, so a busy machine changes little).

    .venv/bin/python -m bench.bench_receipt_path webhook --count 3000
    .venv/bin/python -m bench.bench_receipt_path apply --count 20000
    DATABASE_URL=postgresql://... .venv/bin/python -m bench.bench_receipt_path apply
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import insert, text
from twilio.request_validator import RequestValidator

from alerting.config import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from alerting.models import Message
from bench.common import fresh_database

PUBLIC = "http://127.0.0.1:5000"


def callback(n: int, status: str) -> dict[str, str]:
    """The fields the simulator (and Twilio) POST for message n."""
    sid = f"SM{n:032d}"
    return {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": f"+479{n:07d}",
        "MessageSid": sid,
        "AccountSid": DEFAULT_ACCOUNT_SID,
        "From": "+4790000000",
        "ApiVersion": "2010-04-01",
    }


def webhook(args) -> dict:
    """Signed status callbacks through the app's WSGI callable, as gunicorn calls it."""
    from alerting import create_app
    from alerting.config import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-receipt-path-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'b.db'}"
    fresh_database(url).dispose()
    settings = Settings.from_env(tmp).replace(
        database_url=url,
        secret_key="bench",
        public_url=PUBLIC,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
    )
    app = create_app(settings)
    validator = RequestValidator(DEFAULT_AUTH_TOKEN)
    requests = []
    for n in range(args.count):
        path, params = f"/webhooks/twilio/status/{n + 1}", callback(n, "delivered")
        signature = validator.compute_signature(PUBLIC + path, params)
        requests.append((path, urlencode(params).encode(), signature))
    codes: dict[str, int] = {}

    def call(path: str, body: bytes, signature: str) -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_TWILIO_SIGNATURE": signature,
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }

        def start_response(status: str, _headers, _exc=None) -> None:
            codes[status] = codes.get(status, 0) + 1

        for _chunk in app(environ, start_response):
            pass

    warm = min(200, args.count // 10)
    for r in requests[:warm]:
        call(*r)
    cpu, wall = time.process_time(), time.perf_counter()
    for r in requests[warm:]:
        call(*r)
    n = len(requests) - warm
    return {
        "benchmark": "webhook in process",
        "requests": n,
        "cpu_ms_per_request": round((time.process_time() - cpu) / n * 1e3, 3),
        "wall_ms_per_request": round((time.perf_counter() - wall) / n * 1e3, 3),
        "status_codes": codes,
    }


def apply(args) -> dict:
    """`sent` then `delivered` for `count` messages, applied in the drain's batches."""
    from alerting.sending.receipts import BATCH
    from alerting.sending.status import apply_receipts

    tmp = Path(tempfile.mkdtemp(prefix="bench-receipt-path-"))
    engine = fresh_database(os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'b.db'}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (category, severity, title, texts, area_geojson, area_name, "
                "status, sender, created_by, created_at, recipients, skipped) VALUES ('water', "
                "'minor', 'r', '{}', '{}', '', 'sending', '', '', CURRENT_TIMESTAMP, 0, 0)"
            )
        )
        alert_id = conn.scalar(text("SELECT max(id) FROM alerts"))
        rows = [
            {"alert_id": alert_id, "phone": f"+479{i:07d}", "body": "x", "status": "queued"}
            for i in range(args.count)
        ]
        conn.execute(insert(Message), rows)
        ids = list(conn.scalars(text("SELECT id FROM messages ORDER BY id")))
    items = [(mid, callback(n, s)) for s in ("sent", "delivered") for n, mid in enumerate(ids)]
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(0, len(items), BATCH):
        with engine.begin() as conn:
            apply_receipts(conn, items[i : i + BATCH])
    elapsed = time.perf_counter() - wall
    with engine.connect() as conn:
        delivered = conn.scalar(text("SELECT count(*) FROM messages WHERE status = 'delivered'"))
    engine.dispose()
    return {
        "benchmark": "apply in process",
        "database": engine.dialect.name,
        "receipts": len(items),
        "per_s": round(len(items) / elapsed),
        "cpu_us_per_receipt": round((time.process_time() - cpu) / len(items) * 1e6),
        "delivered": delivered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("webhook").add_argument("--count", type=int, default=3000)
    sub.add_parser("apply").add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps({"webhook": webhook, "apply": apply}[args.what](args)))


if __name__ == "__main__":
    main()
