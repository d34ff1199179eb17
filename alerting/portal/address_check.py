"""The public map's "is my address inside?": an address of the register, in or out of each alert.

Anyone may ask, so the answer holds only what `/public` already shows (the alerts' ids and
titles) and the address itself with its position: never who lives there. Lookups search the
register, so they are counted per client IP (ADDRESS_CHECKS_PER_IP per rolling hour).
"""

from __future__ import annotations

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from shapely import Point
from werkzeug.wrappers import Response

from alerting import current
from alerting.address_search import MAX_CHARS, MIN_CHARS, find_addresses, normalise
from alerting.areas import AreaError, parse_area
from alerting.db import db
from alerting.models import utcnow
from alerting.portal.limits import record_address_check
from alerting.portal.public import bp, shown_alerts
from alerting.sending.queues import redis_for

ADDRESSES_SHOWN = 5  # a few to choose from; the exact address is what the resident types


def _asked_alerts() -> set[int] | None:
    """The alert ids the page shows (`alerts=1,2`), or None for every current alert."""
    raw = request.args.get("alerts", "")
    ids = {int(part) for part in raw.split(",") if part.strip().isdigit()}
    return ids or None


def _areas() -> list[tuple[dict, object]]:
    """(what anyone may see of the alert, its area) for the current alerts the page shows."""
    asked = _asked_alerts()
    areas = []
    for alert in shown_alerts(utcnow())[0]:
        if asked is not None and alert.id not in asked:
            continue
        try:
            area = parse_area(alert.area_geojson)
        except (AreaError, ValueError):
            continue
        public = {
            "id": alert.id,
            "title": alert.title,
            "url": url_for("public.alert", alert_id=alert.id),
        }
        areas.append((public, area))
    return areas


@bp.get("/address-check.json")
def address_check() -> Response | tuple[Response, int]:
    settings = current.settings()
    q = normalise(request.args.get("q", ""))
    if not MIN_CHARS <= len(q) <= MAX_CHARS:
        detail = _(
            "Type between %(low)d and %(high)d characters of your address.",
            low=MIN_CHARS,
            high=MAX_CHARS,
        )
        return jsonify(error="bad search", detail=detail), 422
    allowed = record_address_check(
        redis_for(settings.redis_url),
        request.remote_addr or "",
        settings.address_checks_per_ip,
        secret=settings.secret_key,
    )
    if not allowed:
        detail = _("Too many searches from your network. Please wait a while and try again.")
        return jsonify(error="too many searches", detail=detail), 429
    areas = _areas()
    answers = []
    for found in find_addresses(db(), q, ADDRESSES_SHOWN):
        spot = Point(found.lon, found.lat)
        inside = [public for public, area in areas if area.covers(spot)]  # the edge is inside
        answers.append({**found.as_dict(), "inside": inside})
    return jsonify(addresses=answers, alerts=[public for public, _area in areas])
