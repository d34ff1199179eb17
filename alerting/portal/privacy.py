"""A resident's own data: download it all as JSON, or delete it for good.

Deleting really removes the phone number: resident rows (and their places), the opt-out and codes
go, and the messages and replies of past alerts keep only anonymous rows so the alert statistics
still add up. Two things stay under the HMAC of the number (alerting.suppression), never the
number: the consent history, which is the proof of consent, and a STOP, so a later register import
cannot make the phone reachable again.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from alerting import audit
from alerting.db import db
from alerting.models import (
    Alert,
    ConsentEvent,
    DeliveryEvent,
    InboundMessage,
    Message,
    OptOut,
    VerificationCode,
)
from alerting.portal import bp
from alerting.portal.residents import SESSION_KEY, current_resident, household, require_resident
from alerting.register_changes import bump_register
from alerting.suppression import phone_hmac, suppress


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def export_data(s: Session, phone: str) -> dict:
    """Everything stored about `phone`, in one JSON-ready dict; rows that retention or an earlier
    deletion left under the number's HMAC are theirs too."""
    members = household(s, phone)
    first = members[0] if members else None
    opt_out = s.get(OptOut, phone)
    known = (phone, phone_hmac(phone))
    consent = s.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.phone.in_(known))
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    received = s.execute(
        select(Alert.title, Alert.category, Message.sent_at, Message.status, Message.body)
        .join(Alert, Alert.id == Message.alert_id)
        .where(Message.phone.in_(known))
        .order_by(Message.id)
    )
    replies = s.scalars(
        select(InboundMessage).where(InboundMessage.phone.in_(known)).order_by(InboundMessage.id)
    )
    return {
        "phone": phone,
        "subscribed": opt_out is None,
        "residents": [
            {
                "name": m.name,
                "source": m.source,
                "created_at": _iso(m.created_at),
            }
            for m in members
        ],
        "places": [
            {"label": p.label, "address": p.address, "lat": p.lat, "lon": p.lon}
            for m in members
            for p in m.locations
        ],
        "settings": {
            "language": first.language if first else None,
            "declined_categories": list(first.declined_categories or []) if first else [],
            "paused": bool(first.paused) if first else False,
            "quiet_start": first.quiet_start.strftime("%H:%M")
            if first and first.quiet_start
            else None,
            "quiet_end": first.quiet_end.strftime("%H:%M") if first and first.quiet_end else None,
        },
        "consent_history": [
            {"action": c.action, "source": c.source, "at": _iso(c.at)} for c in consent
        ],
        "alerts_received": [
            {
                "title": title,
                "category": category,
                "sent_at": _iso(sent_at),
                "status": status,
                "text": body,
            }
            for title, category, sent_at, status, body in received
        ],
        "sms_sent_to_us": [
            {"body": r.body, "kind": r.kind, "received_at": _iso(r.received_at)} for r in replies
        ],
    }


def delete_phone(s: Session, phone: str) -> None:
    """Remove every trace of `phone`; past messages stay as anonymous rows (those retention left
    under the HMAC too). The caller commits."""
    members = household(s, phone)
    member_ids = [m.id for m in members]
    known = (phone, phone_hmac(phone))
    message_ids = list(
        s.scalars(
            select(Message.id).where(
                or_(Message.phone.in_(known), Message.resident_id.in_(member_ids))
            )
        )
    )
    for member in members:
        s.delete(member)  # places go with it (cascade)
    opted_out = s.get(OptOut, phone)
    if opted_out is not None:
        suppress(s, phone, opted_out.source)
    s.execute(delete(OptOut).where(OptOut.phone == phone))
    s.execute(update(ConsentEvent).where(ConsentEvent.phone == phone).values(phone=known[1]))
    s.execute(delete(VerificationCode).where(VerificationCode.phone == phone))
    for message_id in message_ids:
        # (alert_id, phone) is unique, so each anonymous row needs its own placeholder
        s.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(phone=f"deleted-{message_id}", resident_id=None)
        )
    if message_ids:
        # provider callbacks carry the phone number in To/From
        s.execute(
            update(DeliveryEvent)
            .where(DeliveryEvent.message_id.in_(message_ids))
            .values(payload={})
        )
    for inbound_id in list(
        s.scalars(select(InboundMessage.id).where(InboundMessage.phone.in_(known)))
    ):
        s.execute(
            update(InboundMessage)
            .where(InboundMessage.id == inbound_id)
            .values(phone=f"deleted-{inbound_id}", body="")
        )
    bump_register(s, member_ids, opt_outs=True)


@bp.get("/export")
@require_resident
def export() -> Response:
    resident = current_resident()
    assert resident is not None
    data = export_data(db(), resident.phone)
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="my-alerting-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/delete", methods=["GET", "POST"])
@require_resident
def delete_account() -> Response | str:
    resident = current_resident()
    assert resident is not None
    if request.method == "GET":
        return render_template("portal/delete.html")
    if request.form.get("confirm") != "yes":
        flash(_("Tick the box to confirm that you want to delete your account."), "error")
        return redirect(url_for("portal.delete_account"))
    s = db()
    resident_id = resident.id
    delete_phone(s, resident.phone)
    audit.record(s, f"resident:{resident_id}", "resident.deleted", f"resident:{resident_id}")
    s.commit()
    session.pop(SESSION_KEY, None)
    flash(_("Your account and your phone number have been deleted."), "info")
    return redirect(url_for("portal.sign_in"))
