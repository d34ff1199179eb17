"""The public map of current alerts: areas, titles and texts, never who received them.

Each alert says whether it is in force, upcoming, ended, cancelled or ended by an all-clear
(alerting.validity.public_status, from its validity, never from delivery). In-force and upcoming
alerts are current; ended ones are listed apart for a day. Exercises and alerts not sent to
residents yet (draft, pending approval, rejected, scheduled) never appear (validity.is_published).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, render_template, url_for
from flask_babel import get_locale
from sqlalchemy import and_, or_, select

from alerting import current
from alerting.areas import AreaError, parse_area, to_geojson
from alerting.db import db
from alerting.models import Alert, utcnow
from alerting.portal import template_context
from alerting.validity import (
    CURRENT,
    PUBLISHED_STATES,
    RECENTLY_ENDED,
    ended_at,
    in_force_between,
    is_published,
    public_status,
)

bp = Blueprint("public", __name__, url_prefix="/public")
bp.context_processor(template_context)

# alerts stored before validity was recorded (no expires) are in force at most this long
_UNDATED_SHOWN_FOR = timedelta(days=7)


def _text(alert: Alert) -> str:
    texts = alert.texts or {}
    lang = str(get_locale() or "")
    return texts.get(lang) or texts.get("default") or next(iter(texts.values()), "")


def _area(alert: Alert) -> dict | None:
    """The area as plain GeoJSON geometry (circles become polygons), or None if unreadable."""
    try:
        return to_geojson(parse_area(alert.area_geojson))
    except (AreaError, ValueError):
        return None


def _public(alert: Alert, now: datetime) -> dict:
    """What anyone may see of an alert."""
    onset, expires = in_force_between(alert)
    return {
        "id": alert.id,
        "title": alert.title,
        "category": alert.category,
        "severity": alert.severity,
        # an all-clear is news that a danger is over: never shown as the danger itself
        "all_clear": alert.response_type == "AllClear",
        "text": _text(alert),
        "area_name": alert.area_name,
        "started_at": alert.started_at,
        "onset": onset,
        "expires": expires,
        "status": public_status(alert, now),
        "ended_at": ended_at(alert),
        "area": _area(alert),
    }


def shown_alerts(now: datetime) -> tuple[list[Alert], list[Alert]]:
    """(current, recently ended): in force or upcoming, soonest-ending first; and those that
    ended within RECENTLY_ENDED, last ended first."""
    since = now - RECENTLY_ENDED
    candidates = db().scalars(
        select(Alert).where(
            Alert.status.in_(PUBLISHED_STATES),
            Alert.exercise.is_(False),
            or_(
                Alert.expires >= since,
                Alert.cancelled_at >= since,
                and_(Alert.expires.is_(None), Alert.created_at >= now - _UNDATED_SHOWN_FOR),
            ),
        )
    )
    current_, ended = [], []
    for alert in candidates:
        if not is_published(alert):
            continue
        if public_status(alert, now) in CURRENT:
            current_.append(alert)
        elif ended_at(alert) >= since:
            ended.append(alert)
    current_.sort(key=lambda a: (in_force_between(a)[0], a.id), reverse=True)
    ended.sort(key=lambda a: (ended_at(a), a.id), reverse=True)
    return current_, ended


def _page(alerts: list[Alert], ended: list[Alert], single: bool) -> str:
    from alerting.portal.settings import category_names

    now = utcnow()
    public = [_public(a, now) for a in alerts]
    public_ended = [_public(a, now) for a in ended]
    return render_template(
        "portal/public_map.html",
        alerts=public,
        ended=public_ended,
        alerts_json=[
            {
                "id": a["id"],
                "title": a["title"],
                "severity": a["severity"],
                "allClear": a["all_clear"],
                "status": a["status"],
                "area": a["area"],
                "url": url_for("public.alert", alert_id=a["id"]),
            }
            for a in public + public_ended
        ],
        categories=category_names(),
        public_url=current.settings().public_url,
        tile_url=current.settings().tile_url,
        single=single,
    )


@bp.get("")
def index() -> str:
    current_, ended = shown_alerts(utcnow())
    return _page(current_, ended, single=False)


@bp.get("/alerts/<int:alert_id>")
def alert(alert_id: int) -> str:
    row = db().get(Alert, alert_id)
    if row is None or not is_published(row):
        abort(404)
    return _page([row], [], single=True)
