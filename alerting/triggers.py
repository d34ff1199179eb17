"""Triggers: a sensor or another system starts an alert with one signed call.

An admin sets a trigger up (a saved area, a title and texts with {placeholders}, category and
severity, whether it sends at once) and gives the caller its secret. A call is
`POST /api/v1/triggers/{name}/fire` with `X-Alerting-Timestamp` (unix seconds, within
WINDOW_S of our clock) and `X-Alerting-Signature: sha256=<hex HMAC-SHA256 of
"{timestamp}." + body under the secret>`; the body is JSON `{"values": {...}, "area": optional
GeoJSON}`. The same signed request is taken once (a replay is refused); a firing within the
trigger's dedup window of the one that made an alert still in force returns that alert. A
life-safety trigger sends at once only when the admin said so when making it; otherwise its alert
is a draft for a person to send. Every firing is kept with its payload and audited.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerting import current
from alerting.alerts import AlertRefused, create_alert
from alerting.audit import record
from alerting.auth import Principal
from alerting.bounded_json import JSONInputError, loads
from alerting.models import CATEGORIES, LIFE_SAFETY, SEVERITIES, Alert, Area, utcnow
from alerting.models.triggers import Trigger, TriggerFiring

WINDOW_S = 300
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_VALUE = 200
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
BABEL_LOCALE = {"en": "en_GB", "nb": "nb_NO", "nn": "nn_NO", "sv": "sv_SE", "da": "da_DK"}


class TriggerRefused(Exception):
    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.status, self.error, self.detail = status, error, detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def create_trigger(
    session: Session,
    who: Principal,
    *,
    name: str,
    area_id: int,
    category: str,
    severity: str,
    title: str,
    texts: dict[str, str],
    auto_send: bool = False,
    life_safety_auto_send: bool = False,
    dedup_minutes: int = 60,
) -> tuple[Trigger, str]:
    """A new trigger and its secret (shown once). ValueError says what is wrong."""
    if not who.has_role("admin"):
        raise ValueError("only an admin sets up triggers")
    if not NAME.fullmatch(name):
        raise ValueError("a trigger name is 1-64 lower-case letters, digits, - and _")
    if session.get(Area, area_id) is None:
        raise ValueError(f"there is no saved area {area_id}")
    if category not in CATEGORIES or severity not in SEVERITIES:
        raise ValueError(
            f"category one of {', '.join(CATEGORIES)}; severity one of {', '.join(SEVERITIES)}"
        )
    if not texts.get("default"):
        raise ValueError("give a default text")
    if auto_send and category in LIFE_SAFETY and not life_safety_auto_send:
        raise ValueError(
            f"a {category} trigger waits for a person; to send it at once without one, "
            "say so explicitly (life_safety_auto_send)"
        )
    if not 0 <= dedup_minutes <= 7 * 24 * 60:
        raise ValueError("dedup_minutes is 0 to 10080 (a week)")
    secret = secrets.token_urlsafe(32)
    trigger = Trigger(
        name=name,
        secret=secret,
        area_id=area_id,
        category=category,
        severity=severity,
        title=title,
        texts=texts,
        auto_send=auto_send,
        dedup_minutes=dedup_minutes,
        created_by=who.audit_name,
    )
    session.add(trigger)
    session.flush()
    record(
        session,
        who,
        "trigger.create",
        f"trigger:{name}",
        category=category,
        auto_send=auto_send,
        area_id=area_id,
    )
    session.commit()
    return trigger, secret


def _verify(trigger: Trigger, headers: Any, body: bytes) -> str:
    stamp = headers.get("X-Alerting-Timestamp", "")
    given = headers.get("X-Alerting-Signature", "")
    if not stamp or not given:
        raise TriggerRefused(
            401, "unsigned", "send X-Alerting-Timestamp and X-Alerting-Signature (see README)"
        )
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > WINDOW_S:
        raise TriggerRefused(
            401, "stale timestamp", f"X-Alerting-Timestamp must be within {WINDOW_S} s of now"
        )
    expected = signature(trigger.secret, stamp, body)
    if not hmac.compare_digest(expected, given):
        raise TriggerRefused(401, "bad signature", "the HMAC does not match this trigger's secret")
    return expected


def _value(raw: str, language: str) -> str:
    """A value as the text says it: a time with an offset in TIMEZONE, formatted for the
    language; anything else as given."""
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if when.tzinfo is None:
        return raw
    zone = ZoneInfo(current.settings().timezone)
    locale = BABEL_LOCALE.get(language) or BABEL_LOCALE.get(
        current.settings().default_language, "en_GB"
    )
    local = when.astimezone(zone)
    day = format_skeleton("MMMd", local, locale=locale)
    return f"{day} {format_time(local, 'HH:mm', locale=locale)}"


def fill(text: str, values: dict[str, str], language: str) -> str:
    """{name} from values; a [part] whose placeholders have no value is left out; a missing
    value outside brackets is refused."""

    def sub(part: str, optional: bool) -> str | None:
        missing = [n for n in _PLACEHOLDER.findall(part) if not values.get(n)]
        if missing:
            if optional:
                return None
            raise TriggerRefused(422, "missing value", f"the text needs a value for {missing[0]!r}")
        return _PLACEHOLDER.sub(lambda m: _value(values[m.group(1)], language), part)

    text = _OPTIONAL.sub(lambda m: sub(m.group(1), True) or "", text)
    return sub(text, False) or ""


def _until(values: dict[str, str]) -> datetime | None:
    """The alert's expiry from the call: `expires` (or `until`), a time with an offset."""
    raw = values.get("expires") or values.get("until")
    try:
        when = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        raise TriggerRefused(422, "invalid expires", f"{raw[:40]!r} is not ISO 8601") from None
    if when is not None and when.tzinfo is None:
        raise TriggerRefused(422, "invalid expires", "give the time with its offset, e.g. +01:00")
    return when


def _values(payload: Any) -> dict[str, str]:
    values = payload.get("values", {}) if isinstance(payload, dict) else None
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_VALUE for k, v in values.items()
    ):
        raise TriggerRefused(
            422, "invalid values", f'send {{"values": {{"name": "text of at most {MAX_VALUE}"}}}}'
        )
    return values


def _in_force(session: Session, trigger: Trigger) -> Alert | None:
    """This trigger's newest alert, while it counts as the same event: made within the dedup
    window, not cancelled or rejected, not past its expiry. (Found by its author, which is
    committed with the alert, so a call waiting for the lock below sees it.)"""
    since = utcnow() - timedelta(minutes=trigger.dedup_minutes)
    alert = session.scalar(
        select(Alert)
        .where(Alert.created_by == f"trigger:{trigger.name}", Alert.created_at >= since)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if alert is None or alert.status in ("cancelled", "rejected"):
        return None
    if alert.expires is not None and alert.expires <= utcnow():
        return None
    return alert


def fire(session: Session, name: str, headers: Any, body: bytes) -> tuple[int, dict]:
    """Carry out a call; (HTTP status, JSON answer). TriggerRefused when refused."""
    trigger = session.scalar(select(Trigger).where(Trigger.name == name, Trigger.active))
    if trigger is None:
        raise TriggerRefused(404, "not found", f"there is no active trigger {name[:64]!r}")
    mac = _verify(trigger, headers, body)
    try:
        payload = loads(body or b"{}")
    except JSONInputError as exc:
        raise TriggerRefused(400, "invalid JSON", str(exc)) from None
    values = dict(_values(payload))
    saved = session.get(Area, trigger.area_id) if trigger.area_id else None
    values.setdefault("area", saved.name if saved else "")
    # one firing of a trigger at a time (a row lock on PostgreSQL, the write lock on SQLite),
    # so two calls at once cannot both find no alert in force and make two
    session.execute(update(Trigger).where(Trigger.id == trigger.id).values(active=Trigger.active))
    firing = TriggerFiring(trigger_id=trigger.id, signature=mac[7:], payload=payload, outcome="")
    session.add(firing)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise TriggerRefused(409, "replayed", "this signed request was taken already") from None
    who = Principal(f"trigger:{trigger.name}", "coordinator")
    existing = _in_force(session, trigger)
    if existing is not None:
        firing.outcome, firing.alert_id = "deduplicated", existing.id
        record(
            session,
            who,
            "trigger.fire",
            f"trigger:{name}",
            outcome="deduplicated",
            alert=existing.id,
            payload=payload,
        )
        session.commit()
        return 200, {"id": existing.id, "status": existing.status, "deduplicated": True}
    texts = {lang: fill(text, values, lang) for lang, text in trigger.texts.items()}
    area = payload.get("area") if isinstance(payload, dict) else None
    try:
        alert = create_alert(
            session,
            who,
            area=area,
            area_id=None if area is not None else trigger.area_id,
            category=trigger.category,
            severity=trigger.severity,
            title=fill(trigger.title, values, current.settings().default_language),
            texts=texts,
            expires=_until(values),
            draft=not trigger.auto_send,
        )
    except AlertRefused as exc:
        raise TriggerRefused(exc.status, exc.error, exc.detail) from None
    firing.outcome, firing.alert_id = "created", alert.id
    record(
        session,
        who,
        "trigger.fire",
        f"trigger:{name}",
        outcome="created",
        alert=alert.id,
        payload=payload,
    )
    session.commit()
    return 201, {"id": alert.id, "status": alert.status, "deduplicated": False}
