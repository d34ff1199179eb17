"""Watching CAP feeds (MetAlerts, a neighbour's system): an Atom feed whose entries link CAP
documents, or a single CAP document. Each new `Alert` whose area meets the municipality's
boundary (a saved area, CAP_FEED_BOUNDARY) becomes a draft for staff to review, its area cut to
the boundary (a national warning's polygon would reach no one here, or be refused as too large);
Updates and Cancels of drafts made this way are followed. Messages already received are skipped
(cap_messages), so watching again changes nothing. Run by `alerting feeds watch URL` and, for
the URLs in CAP_FEEDS, by a worker job every CAP_FEED_INTERVAL seconds.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version

import redis
from flask import Flask
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting.areas import AreaError, parse_area, to_geojson
from alerting.auth import Principal
from alerting.cap.ingest import CapRefused, read
from alerting.cap.receive import apply
from alerting.config import Settings
from alerting.models import Area
from alerting.redis_conn import connect
from alerting.sending.queues import DEFAULT, job_context, queue

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_S = 20
DUE_KEY = "alerting:cap-feeds-due"
VALIDATORS_KEY = "alerting:cap-feed-validators"  # url → the last answer's ETag, Last-Modified
CONDITIONAL = {"If-None-Match": "ETag", "If-Modified-Since": "Last-Modified"}


@dataclass(frozen=True)
class FeedClient:
    """How we fetch: named (MET Norway's terms ask for an identifying User-Agent: ours carries
    PUBLIC_URL) and, given Redis, conditionally."""

    user_agent: str = f"alerting/{version('alerting')}"
    conn: redis.Redis | None = None

    @classmethod
    def for_settings(cls, settings: Settings, conn: redis.Redis | None) -> FeedClient:
        return cls(f"alerting/{version('alerting')} (+{settings.public_url})", conn)


@dataclass
class WatchReport:
    drafts: list[int] = field(default_factory=list)
    followed: list[int] = field(default_factory=list)  # alerts an Update or Cancel changed
    outside: int = 0  # alerts whose area does not meet the boundary
    seen: int = 0  # received before
    refused: list[str] = field(default_factory=list)  # "url: reason"


@dataclass(frozen=True)
class Fetched:
    url: str
    data: bytes
    validators: dict[str, str]  # the answer's ETag / Last-Modified


def _get(url: str, client: FeedClient) -> Fetched | None:
    """The body at `url`, or None when it has not changed since we last took it: given Redis,
    the request is conditional (If-None-Match / If-Modified-Since from the last answer), so
    watching every few minutes costs the publisher a 304, not the feed and every document."""
    if not url.startswith(("http://", "https://", "file://")):
        raise CapRefused("unsupported URL", f"{url[:100]!r}: use http(s):// or file://")
    request = urllib.request.Request(url, headers={"User-Agent": client.user_agent})
    conn = client.conn
    known = json.loads(conn.hget(VALIDATORS_KEY, url) or "{}") if conn is not None else {}
    for header, name in CONDITIONAL.items():
        if known.get(name):
            request.add_header(header, known[name])
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
            data = response.read(MAX_BYTES + 1)
            headers = response.headers
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return None
        raise
    if len(data) > MAX_BYTES:
        raise CapRefused("too large", f"{url[:100]} is over {MAX_BYTES // 1024 // 1024} MiB")
    validators = {name: headers[name] for name in CONDITIONAL.values() if headers.get(name)}
    return Fetched(url, data, validators)


def _taken(client: FeedClient, fetched: Fetched) -> None:
    """Remember the validators only once the body was dealt with: a watch that dies half-way
    asks for the same documents again instead of being told 304 and losing them."""
    if client.conn is not None:
        client.conn.hset(VALIDATORS_KEY, fetched.url, json.dumps(fetched.validators))


def entries(feed: Fetched, client: FeedClient) -> list[Fetched]:
    """The CAP documents of a feed: the entries of an Atom feed that changed since we last took
    them, or the document itself."""
    try:
        root = etree.fromstring(feed.data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return [feed]  # read() gives the precise reason
    if root.tag != f"{ATOM}feed":
        return [feed]
    links = []
    for entry in root.iter(f"{ATOM}entry"):
        for link in entry.iter(f"{ATOM}link"):
            href = link.get("href", "")
            if href and (link.get("type") == "application/cap+xml" or href.endswith(".xml")):
                links.append(urllib.parse.urljoin(feed.url, href))
                break
    return [doc for doc in (_get(link, client) for link in links) if doc is not None]


def _cut(incoming, boundary) -> bool:
    """Cut the incoming area to the boundary; False when they do not meet."""
    try:
        area = parse_area(incoming.area)
    except AreaError:
        return True  # apply() refuses it with the reason
    inside = area.intersection(boundary)
    if inside.is_empty or inside.area == 0:
        return False
    incoming.area = to_geojson(inside)
    return True


def watch(
    session: Session,
    url: str,
    boundary_name: str,
    default_language: str,
    client: FeedClient | None = None,
) -> WatchReport:
    area = session.scalar(select(Area).where(Area.name == boundary_name))
    if area is None:
        raise CapRefused("unknown boundary", f"there is no saved area {boundary_name!r}")
    boundary = parse_area(area.geojson)
    who = Principal(f"feed:{urllib.parse.urlsplit(url).hostname or 'file'}", "coordinator")
    report = WatchReport()
    client = client or FeedClient()
    feed = _get(url, client)
    if feed is None:
        return report  # nothing changed since the last watch
    for doc in entries(feed, client):
        _take(session, who, doc, boundary, default_language, report)
        if doc is not feed:
            _taken(client, doc)
    _taken(client, feed)
    return report


def _take(
    session: Session,
    who: Principal,
    doc: Fetched,
    boundary,
    default_language: str,
    report: WatchReport,
) -> None:
    """One CAP document: a new draft, an Update or Cancel followed, or why not."""
    try:
        incoming = read(doc.data, default_language)
        if incoming.msg_type == "Alert" and not _cut(incoming, boundary):
            report.outside += 1
            return
        alert, _done = apply(session, who, incoming)
    except CapRefused as exc:
        session.rollback()
        if exc.status == 409:
            report.seen += 1
        elif exc.error == "unknown reference":
            report.outside += 1  # an Update or Cancel of an alert that never reached us
        else:
            report.refused.append(f"{doc.url}: {exc}")
        return
    (report.drafts if incoming.msg_type == "Alert" else report.followed).append(alert.id)


def schedule_feeds(conn: redis.Redis, urls: tuple[str, ...], interval_s: float) -> bool:
    """Queue a watch of CAP_FEEDS unless one was queued within the interval (by any process)."""
    if not urls or not conn.set(DUE_KEY, "1", nx=True, ex=max(1, int(interval_s))):
        return False
    queue(DEFAULT, conn).enqueue(
        "alerting.cap.feeds.watch_job",
        job_id=f"cap-feeds-{int(time.time())}",
        job_timeout=600,
        result_ttl=0,
    )
    return True


def watch_job() -> None:
    """RQ entry point: watch every feed of CAP_FEEDS."""
    with job_context() as app:
        _watch_all(app)


def _watch_all(app: Flask) -> None:
    settings = app.extensions["alerting.settings"]
    session = app.extensions["alerting.sessionmaker"]()
    client = FeedClient.for_settings(settings, connect(settings.redis_url))
    try:
        for url in settings.cap_feeds:
            try:
                report = watch(
                    session, url, settings.cap_feed_boundary, settings.default_language, client
                )
            except (CapRefused, OSError) as exc:
                log.warning("CAP feed %s: %s", url, exc)
                continue
            if report.drafts or report.followed or report.refused:
                log.info("CAP feed %s: %s", url, report)
    finally:
        session.close()
