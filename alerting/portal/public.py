"""The public map of current alerts: areas, titles and texts, never who received them."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, render_template, url_for
from flask_babel import get_locale
from sqlalchemy import and_, or_, select

from alerting import current
from alerting.areas import AreaError, parse_area, to_geojson
from alerting.db import db
from alerting.models import Alert, utcnow
from alerting.portal import template_context

bp = Blueprint("public", __name__, url_prefix="/public")
bp.context_processor(template_context)

PUBLIC_STATES = ("sending", "sent", "completed")
ENDED_SHOWN_FOR = timedelta(hours=24)


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


def _public(alert: Alert) -> dict:
    """What anyone may see of an alert."""
    return {
        "id": alert.id,
        "title": alert.title,
        "category": alert.category,
        "severity": alert.severity,
        "text": _text(alert),
        "area_name": alert.area_name,
        "started_at": alert.started_at,
        "completed_at": alert.completed_at,
        "active": alert.status in ("sending", "sent"),
        "area": _area(alert),
    }


def current_alerts() -> list[Alert]:
    """Alerts being sent or sent, and those completed within the last 24 hours, newest first."""
    since = utcnow() - ENDED_SHOWN_FOR
    return list(
        db().scalars(
            select(Alert)
            .where(
                or_(
                    Alert.status.in_(("sending", "sent")),
                    and_(Alert.status == "completed", Alert.completed_at >= since),
                )
            )
            .order_by(Alert.started_at.desc(), Alert.id.desc())
        )
    )


def _page(alerts: list[Alert], single: bool) -> str:
    from alerting.portal.settings import category_names

    public = [_public(a) for a in alerts]
    return render_template(
        "portal/public_map.html",
        alerts=public,
        alerts_json=[
            {
                "id": a["id"],
                "title": a["title"],
                "severity": a["severity"],
                "area": a["area"],
                "url": url_for("public.alert", alert_id=a["id"]),
            }
            for a in public
        ],
        categories=category_names(),
        public_url=current.settings().public_url,
        tile_url=current.settings().tile_url,
        single=single,
    )


@bp.get("")
def index() -> str:
    return _page(current_alerts(), single=False)


@bp.get("/alerts/<int:alert_id>")
def alert(alert_id: int) -> str:
    row = db().get(Alert, alert_id)
    if row is None or row.status not in PUBLIC_STATES:
        abort(404)
    return _page([row], single=True)
