"""Compose and send, the alert page with live progress, cancel, resend, follow-up, CSV export.

Creating, cancelling and following up go through `alerting.alerts`, the one place that decides who
may send what; these views only turn forms into those calls and their refusals into messages.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from alerting import audit, current
from alerting.alerts import AlertRefused, check_area_id, check_area_name
from alerting.areas import AreaError
from alerting.auth import principal, require_role
from alerting.bounded_json import loads
from alerting.db import db
from alerting.follow_up_audience import follow_up_audience
from alerting.ids import MAX_ID
from alerting.languages import all_language_names
from alerting.models import (
    ALERT_STATES,
    CATEGORIES,
    LIFE_SAFETY,
    RESPONSE_TYPES,
    SEVERITIES,
    Alert,
    Area,
    InboundMessage,
    Location,
    Message,
)
from alerting.phones import mask
from alerting.progress import held_by_quiet_hours, seconds_left
from alerting.staff import bp
from alerting.staff.forms import ActionForm, confirmed
from alerting.templates_text import templates_for_browser
from alerting.timefmt import local_time, to_utc
from alerting.validity import TEMPLATE_RESPONSE_TYPES

PAGE = 50
MAX_MAP_POINTS = 20_000
RESEND_STATUSES = ("undelivered", "failed")


def allowed_categories() -> list[str]:
    """Categories the caller may send: operators never the life-safety ones."""
    who = principal()
    if who is not None and who.has_role("coordinator"):
        return list(CATEGORIES)
    return [c for c in CATEGORIES if c not in LIFE_SAFETY]


def _texts_from_form(prefix: str = "text_") -> dict[str, str]:
    texts = {}
    for key, value in request.form.items():
        if key.startswith(prefix) and value.strip():
            texts[key[len(prefix) :]] = value.strip()
    return texts


def _calls_from_form() -> dict:
    """The spoken text per language (empty: the SMS text is spoken) and after how many
    minutes mobiles whose SMS is undelivered are called (empty: never)."""
    raw = request.form.get("call_undelivered_after", "").strip()
    if raw and not (raw.isdigit() and len(raw) <= 5):
        raise ValueError(_("Write the minutes as a whole number, or leave the field empty."))
    return {
        "spoken_texts": _texts_from_form("spoken_") or None,
        "call_undelivered_after": int(raw) if raw else None,
    }


def _time_from_form(field: str) -> datetime | None:
    """A datetime-local field as naive UTC: what staff type is TIMEZONE's wall clock."""
    raw = request.form.get(field, "").strip()
    if not raw:
        return None
    try:
        return to_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ValueError(_("Write the time as YYYY-MM-DD HH:MM.")) from None
    except OverflowError:  # 0001-01-01T00:00 in Oslo is in the year 0 in UTC
        raise AlertRefused(
            422, f"invalid {field}", _("Choose a time in the years 1 to 9999.")
        ) from None


def _send_at_from_form() -> datetime | None:
    if request.form.get("send_mode") != "later":
        return None
    send_at = _time_from_form("send_at")
    if send_at is None:
        raise ValueError(_("Choose when to send, or send now."))
    return send_at


def _validity_from_form() -> dict:
    """onset and expires (the Start and End fields) and the CAP response type."""
    return {
        "onset": _time_from_form("onset"),
        "expires": _time_from_form("expires"),
        "response_type": request.form.get("response_type") or None,
    }


def _area_from_form() -> tuple[dict | None, int | None]:
    """The drawn area (GeoJSON, parsed at a bounded cost) or the chosen saved area's id."""
    area_id = request.form.get("area_id", "").strip()
    if area_id:
        if not (area_id.isdigit() and len(area_id) <= len(str(MAX_ID))):
            raise ValueError(_("There is no saved area %(id)s.", id=area_id[:20]))
        return None, check_area_id(int(area_id))
    raw_area = request.form.get("area_geojson", "").strip()
    return (loads(raw_area) if raw_area else None), None


def _compose_context(parent: Alert | None = None, resend: bool = False) -> dict:
    s = db()
    areas = s.execute(select(Area.id, Area.name, Area.library).order_by(Area.name)).all()
    statuses = RESEND_STATUSES if resend else None
    return {
        "resend": resend,
        "audience": follow_up_audience(s, parent, statuses) if parent else None,
        "categories": allowed_categories(),
        "severities": SEVERITIES,
        "saved_areas": [{"id": a.id, "name": a.name, "library": a.library} for a in areas],
        "templates_json": templates_for_browser(),
        "tile_url": current.settings().tile_url,
        "default_language": current.settings().default_language,
        "language_names": all_language_names(str(get_locale())),
        "parent": parent,
        "parent_area": json.loads(parent.area_geojson) if parent else None,
        "response_types": RESPONSE_TYPES,
        "template_response_types": TEMPLATE_RESPONSE_TYPES,
        "form": ActionForm(),
        "values": request.form if request.method == "POST" else {},
    }


@bp.get("/alerts/new")
@require_role("operator")
def compose():
    return render_template("staff/compose.html", **_compose_context())


@bp.post("/alerts/new")
@require_role("operator")
def compose_send():
    from alerting.alerts import AlertRefused, create_alert

    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    s = db()
    error = None
    try:
        if request.form.get("confirmed") != "1":
            raise ValueError(_("Confirm the number of phones before sending."))
        area, area_id = _area_from_form()
        alert = create_alert(
            s,
            principal(),
            area=area,
            area_id=area_id,
            category=request.form.get("category", ""),
            severity=request.form.get("severity", ""),
            title=request.form.get("title", "").strip(),
            texts=_texts_from_form(),
            send_at=_send_at_from_form(),
            area_name=check_area_name(request.form.get("area_name", "")),
            exercise=request.form.get("exercise") == "1",
            **_validity_from_form(),
            **_calls_from_form(),
        )
    except AlertRefused as exc:
        s.rollback()
        error, status = f"{exc.error}: {exc.detail}" if exc.detail else exc.error, exc.status
    except AreaError as exc:
        s.rollback()
        error, status = str(exc), 422
    except ValueError as exc:  # our own messages: bad JSON, time or area id in the form
        s.rollback()
        error, status = str(exc), 422
    if error:
        flash(error, "error")
        return render_template("staff/compose.html", **_compose_context()), status
    return redirect(url_for("staff.alert_page", alert_id=alert.id))


@bp.get("/alerts")
@require_role("viewer")
def alert_list():
    s = db()
    query = select(Alert).order_by(Alert.id.desc())
    status = request.args.get("status", "")
    category = request.args.get("category", "")
    since = request.args.get("since", "")
    until = request.args.get("until", "")
    if status in ALERT_STATES:
        query = query.where(Alert.status == status)
    if category in CATEGORIES:
        query = query.where(Alert.category == category)
    kind = request.args.get("kind", "")
    if kind in ("real", "exercise"):  # exercises are counted apart from real alerts
        query = query.where(Alert.exercise == (kind == "exercise"))
    try:
        if since:
            query = query.where(Alert.created_at >= datetime.fromisoformat(since))
        if until:
            query = query.where(
                Alert.created_at < datetime.fromisoformat(until) + timedelta(days=1)
            )
    except ValueError:
        flash(_("Dates are written YYYY-MM-DD."), "error")
    page = max(request.args.get("page", 1, type=int), 1)
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    alerts = s.scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template(
        "staff/alerts.html",
        alerts=alerts,
        states=ALERT_STATES,
        categories=CATEGORIES,
        filters={
            "status": status,
            "category": category,
            "kind": kind,
            "since": since,
            "until": until,
        },
        page=page,
        pages=max(1, -(-total // PAGE)),
    )


def _alert_or_404(alert_id: int) -> Alert:
    return db().get(Alert, alert_id) or abort(404)


def progress(alert_id: int) -> dict:
    """Status, counts per message status and the latest replies, as the alert page polls them."""
    from alerting.alerts import alert_summary

    s = db()
    summary = alert_summary(s, alert_id)
    show_phone = principal().has_role("admin")
    replies = s.execute(
        select(InboundMessage.phone, InboundMessage.body, InboundMessage.received_at)
        .where(InboundMessage.alert_id == alert_id)
        .order_by(InboundMessage.id.desc())
        .limit(50)
    ).all()
    summary["replies"] = [
        {"phone": p if show_phone else mask(p), "body": b, "at": local_time(at)}
        for p, b, at in replies
    ]
    confirmed = s.execute(
        select(Message.phone, Message.acknowledged_at)
        .where(Message.alert_id == alert_id, Message.acknowledged_at.is_not(None))
        .order_by(Message.acknowledged_at.desc())
        .limit(50)
    ).all()
    summary["acknowledgements"] = [
        {"phone": p if show_phone else mask(p), "at": local_time(at)} for p, at in confirmed
    ]
    settings = current.settings()
    summary["held"] = held_by_quiet_hours(s, alert_id, ZoneInfo(settings.timezone))
    summary["rate_limit"] = settings.sms_rate_per_second
    held = sum(h["count"] for h in summary["held"])
    summary["eta_s"] = seconds_left(summary["counts"], held, settings.sms_rate_per_second)
    return summary


@bp.get("/alerts/<int:alert_id>")
@require_role("viewer")
def alert_page(alert_id: int):
    alert = _alert_or_404(alert_id)
    children = db().scalars(select(Alert).where(Alert.parent_id == alert.id)).all()
    return render_template(
        "staff/alert.html",
        alert=alert,
        children=children,
        summary=progress(alert.id),
        area=json.loads(alert.area_geojson),
        tile_url=current.settings().tile_url,
        form=ActionForm(),
        can_send=principal().has_role("operator"),
    )


@bp.get("/alerts/<int:alert_id>/progress.json")
@require_role("viewer")
def alert_progress(alert_id: int):
    _alert_or_404(alert_id)
    return jsonify(progress(alert_id))


@bp.get("/alerts/<int:alert_id>/recipients.json")
@require_role("viewer")
def alert_recipients(alert_id: int):
    """Every recipient's places, coloured by status on the map (no names, no phones)."""
    _alert_or_404(alert_id)
    rows = (
        db()
        .execute(
            select(Location.lon, Location.lat, Message.status)
            .join(Location, Location.resident_id == Message.resident_id)
            .where(Message.alert_id == alert_id)
            .limit(MAX_MAP_POINTS)
        )
        .all()
    )
    return jsonify(points=[[round(x, 6), round(y, 6), st] for x, y, st in rows])


@bp.post("/alerts/<int:alert_id>/cancel")
@require_role("operator")
def alert_cancel(alert_id: int):
    from alerting.alerts import AlertRefused, cancel_alert

    if not ActionForm().validate_on_submit():
        abort(400)
    if not confirmed():
        flash(_("Confirm the cancellation: nothing was cancelled."), "error")
        return alert_page(alert_id), 422
    s = db()
    try:
        cancel_alert(s, principal(), alert_id)
    except AlertRefused as exc:
        s.rollback()
        flash(f"{exc.error}: {exc.detail}" if exc.detail else exc.error, "error")
    else:
        flash(_("Alert cancelled: nothing more is handed to the provider."), "info")
    return redirect(url_for("staff.alert_page", alert_id=alert_id))


@bp.post("/alerts/<int:alert_id>/send")
@require_role("operator")
def alert_send_draft(alert_id: int):
    from alerting.alerts import AlertRefused, send_draft

    if not confirmed():
        flash(_("Confirm sending the draft."), "error")
        return alert_page(alert_id), 422
    s = db()
    try:
        send_draft(s, principal(), alert_id)
    except AlertRefused as exc:
        s.rollback()
        flash(f"{exc.error}: {exc.detail}" if exc.detail else exc.error, "error")
    else:
        flash(_("The draft is on its way."), "info")
    return redirect(url_for("staff.alert_page", alert_id=alert_id))


@bp.route("/alerts/<int:alert_id>/resend", methods=["GET", "POST"])
@require_role("operator")
def alert_resend(alert_id: int):
    """The compose page for sending again to the recipients whose message was undelivered or
    failed (their count and the parent's texts pre-filled); sent only once confirmed."""
    return _follow_up_page(_alert_or_404(alert_id), RESEND_STATUSES)


@bp.route("/alerts/<int:alert_id>/follow-up", methods=["GET", "POST"])
@require_role("operator")
def alert_follow_up(alert_id: int):
    """A new message (for example the all clear) to exactly the recipients of this alert."""
    return _follow_up_page(_alert_or_404(alert_id), None)


def _follow_up_page(parent: Alert, only_statuses: tuple[str, ...] | None):
    """The compose page of a follow-up or a resend, and its confirmed POST."""
    from alerting.alerts import AlertRefused, follow_up

    resend = only_statuses is not None
    if request.method == "POST":
        if not ActionForm().validate_on_submit():
            abort(400)
        s = db()
        try:
            if request.form.get("confirmed") != "1":
                raise ValueError(_("Confirm the number of phones before sending."))
            child = follow_up(
                s,
                principal(),
                parent.id,
                title=request.form.get("title", "").strip(),
                texts=_texts_from_form(),
                category=request.form.get("category") or None,
                severity=request.form.get("severity") or None,
                only_statuses=only_statuses,
                **_validity_from_form(),
            )
        except AlertRefused as exc:
            s.rollback()
            flash(f"{exc.error}: {exc.detail}" if exc.detail else exc.error, "error")
            context = _compose_context(parent, resend)
            return render_template("staff/compose.html", **context), exc.status
        except ValueError as exc:
            s.rollback()
            flash(str(exc), "error")
            return render_template("staff/compose.html", **_compose_context(parent, resend)), 422
        return redirect(url_for("staff.alert_page", alert_id=child.id))
    return render_template("staff/compose.html", **_compose_context(parent, resend))


@bp.get("/alerts/<int:alert_id>/recipients.csv")
@require_role("viewer")
def alert_export(alert_id: int):
    """Every recipient's status; phone numbers masked unless the caller is an admin."""
    _alert_or_404(alert_id)
    who = principal()
    show_phone = who.has_role("admin")
    s = db()
    rows = s.execute(
        select(
            Message.id,
            Message.phone,
            Message.language,
            Message.status,
            Message.error_code,
            Message.attempts,
            Message.sent_at,
            Message.updated_at,
        )
        .where(Message.alert_id == alert_id)
        .order_by(Message.id)
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "message_id",
            "phone",
            "language",
            "status",
            "error_code",
            "attempts",
            "sent_at",
            "updated_at",
        ]
    )
    for mid, phone, lang, status, code, attempts, sent_at, updated_at in rows:
        writer.writerow(
            [
                mid,
                phone if show_phone else mask(phone),
                lang,
                status,
                code or "",
                attempts,
                sent_at.isoformat() if sent_at else "",
                updated_at.isoformat() if updated_at else "",
            ]
        )
    audit.record(s, who, "alert.export", f"alert:{alert_id}", masked=not show_phone)
    s.commit()
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=alert-{alert_id}-recipients.csv"},
    )
