"""Feed watching against a local HTTP server serving saved CAP documents (never the internet):
new alerts meeting the boundary become drafts cut to it, the rest are left alone, Updates and
Cancels are followed, and watching again changes nothing."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from alerting.cap.feeds import DUE_KEY, _watch_all, schedule_feeds
from alerting.models import Alert, Area
from alerting.redis_conn import connect
from alerting.sending.queues import DEFAULT, queue

NS = "urn:oasis:names:tc:emergency:cap:1.2"
BOUNDARY = {
    "type": "Polygon",
    "coordinates": [[[5.20, 60.30], [5.40, 60.30], [5.40, 60.45], [5.20, 60.45], [5.20, 60.30]]],
}


def cap(identifier: str, polygon: str = "", msg_type: str = "Alert", refs: str = "") -> bytes:
    area = (
        f"<area><areaDesc>Vestland</areaDesc><polygon>{polygon}</polygon></area>" if polygon else ""
    )
    info = (
        "<info><language>no</language><category>Met</category><event>Stormflo</event>"
        "<urgency>Expected</urgency><severity>Moderate</severity><certainty>Likely</certainty>"
        "<expires>2030-01-01T06:00:00+01:00</expires>"
        "<headline>Farevarsel stormflo</headline><description>Høy vannstand.</description>"
        f"{area}</info>"
    )
    references = f"<references>{refs}</references>" if refs else ""
    body = "" if msg_type == "Cancel" else info
    return (
        f'<alert xmlns="{NS}"><identifier>{identifier}</identifier>'
        "<sender>noreply@met.no</sender><sent>2026-12-03T06:00:00+01:00</sent>"
        f"<status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>"
        f"{references}{body}</alert>"
    ).encode()


# lat,lon: a county-wide polygon that covers the boundary's south half and much more
COUNTY = "60.00,4.80 60.00,6.00 60.36,6.00 60.36,4.80 60.00,4.80"
FAR = "69.60,18.80 69.70,18.80 69.70,19.00 69.60,19.00 69.60,18.80"  # Tromsø
REF = "noreply@met.no,met.1,2026-12-03T06:00:00+01:00"


class Feed:
    """A local HTTP server: /feed.atom lists the documents in `docs`."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        self.requests: list[tuple[str, int, str]] = []  # (path, status, User-Agent)
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                name = self.path.lstrip("/")
                agent = self.headers.get("User-Agent", "")
                if name == "feed.atom":
                    entries = "".join(
                        f"<entry><id>{n}</id><title>{n}</title><updated>2026-12-03T06:00:00Z</updated>"
                        f'<link rel="alternate" type="application/cap+xml" href="/{n}"/></entry>'
                        for n in feed.docs
                    )
                    data = (
                        '<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>MetAlerts</title>'
                        f"<updated>2026-12-03T06:00:00Z</updated>{entries}</feed>"
                    ).encode()
                elif name in feed.docs:
                    data = feed.docs[name]
                else:
                    self.send_error(404)
                    return
                etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
                if self.headers.get("If-None-Match") == etag:
                    feed.requests.append((name, 304, agent))
                    self.send_response(304)
                    self.end_headers()
                    return
                feed.requests.append((name, 200, agent))
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/feed.atom"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.server.shutdown()
    f.server.server_close()


@pytest.fixture
def boundary(session) -> None:
    session.add(Area(name="Bergen kommune", geojson=json.dumps(BOUNDARY)))
    session.commit()


def watch(cli, url: str):
    return cli("feeds", "watch", url, "--boundary", "Bergen kommune")


def test_a_feed_gives_drafts_cut_to_the_boundary_and_follows_their_cancels(
    cli, session, feed, boundary
):
    feed.docs = {"met.1": cap("met.1", COUNTY), "met.2": cap("met.2", FAR)}
    result = watch(cli, feed.url)
    assert result.exit_code == 0, result.output
    assert "1 new drafts" in result.output and "1 outside the boundary" in result.output
    draft = session.scalars(select(Alert)).one()
    assert draft.status == "draft" and draft.texts["nb"] == "Høy vannstand."
    area = shape(json.loads(draft.area_geojson))
    assert area.bounds == pytest.approx((5.20, 60.30, 5.40, 60.36))  # the county cut to Bergen

    again = watch(cli, feed.url)
    assert "0 new drafts" in again.output and "1 seen before" in again.output
    assert session.scalars(select(Alert)).all() == [draft]

    feed.docs["met.3"] = cap("met.3", msg_type="Cancel", refs=REF)
    feed.docs["met.4"] = cap("met.4", msg_type="Cancel", refs=REF.replace("met.1", "met.2"))
    third = watch(cli, feed.url)
    assert "1 updated or cancelled" in third.output
    session.expire_all()
    assert session.get(Alert, draft.id).status == "cancelled"


def test_a_broken_document_in_the_feed_is_reported_and_the_others_are_taken(
    cli, session, feed, boundary
):
    feed.docs = {"bad": b"<alert>not closed", "met.1": cap("met.1", COUNTY)}
    result = watch(cli, feed.url)
    assert result.exit_code == 1
    assert "refused:" in result.output and "not XML" in result.output
    assert len(session.scalars(select(Alert)).all()) == 1


def test_an_unknown_boundary_or_an_unreachable_feed_is_a_clear_error(cli, feed, boundary):
    assert (
        "no saved area 'Nowhere'" in cli("feeds", "watch", feed.url, "--boundary", "Nowhere").output
    )
    down = cli("feeds", "watch", "http://127.0.0.1:9/feed.atom", "--boundary", "Bergen kommune")
    assert down.exit_code != 0 and "127.0.0.1:9" in down.output


def test_workers_watch_cap_feeds_once_per_interval(app, session, feed, boundary):
    feed.docs = {"met.1": cap("met.1", COUNTY)}
    settings = app.extensions["alerting.settings"]
    settings.cap_feeds, settings.cap_feed_boundary = (feed.url,), "Bergen kommune"
    conn = connect(settings.redis_url)
    assert schedule_feeds(conn, settings.cap_feeds, 300) is True
    assert schedule_feeds(conn, settings.cap_feeds, 300) is False  # within the interval
    assert conn.ttl(DUE_KEY) > 290
    assert [j.func_name for j in queue(DEFAULT, conn).jobs] == ["alerting.cap.feeds.watch_job"]
    _watch_all(app)  # what the job does in a worker
    assert session.scalars(select(Alert.status)).all() == ["draft"]


def test_workers_ask_conditionally_and_fetch_only_what_changed(app, session, feed, boundary):
    """MetAlerts is watched every few minutes by many: an unchanged feed must cost it a 304,
    and a document already taken is never fetched again; the requests name us."""
    feed.docs = {"met.1": cap("met.1", COUNTY)}
    settings = app.extensions["alerting.settings"]
    settings.cap_feeds, settings.cap_feed_boundary = (feed.url,), "Bergen kommune"
    _watch_all(app)
    assert [(path, status) for path, status, _ in feed.requests] == [
        ("feed.atom", 200),
        ("met.1", 200),
    ]
    assert all(settings.public_url in agent for _, _, agent in feed.requests)

    feed.requests.clear()
    _watch_all(app)  # nothing changed
    assert [(path, status) for path, status, _ in feed.requests] == [("feed.atom", 304)]

    feed.requests.clear()
    feed.docs["met.3"] = cap("met.3", msg_type="Cancel", refs=REF)
    _watch_all(app)
    assert [(path, status) for path, status, _ in feed.requests] == [
        ("feed.atom", 200),
        ("met.1", 304),
        ("met.3", 200),
    ]
    assert session.scalars(select(Alert.status)).all() == ["cancelled"]
