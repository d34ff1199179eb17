"""The signed-in resident and the phone they proved they own.

Several residents may share one phone (a household in the register). Signing in proves ownership
of the phone, so settings, exports and deletion cover every resident row with that phone; new
places go to the first of them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, redirect, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting.db import db
from alerting.i18n import LOCALE_NAMES
from alerting.models import OptOut, Resident

SESSION_KEY = "resident_id"
UI_LANGUAGES = LOCALE_NAMES  # residents choose among the interface languages


def current_resident() -> Resident | None:
    """The resident of this browser session, or None (also when the row was deleted)."""
    if "portal_resident" not in g:
        resident_id = session.get(SESSION_KEY)
        g.portal_resident = db().get(Resident, resident_id) if resident_id else None
        if resident_id and g.portal_resident is None:
            session.pop(SESSION_KEY, None)
    return g.portal_resident


def require_resident(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_resident() is None:
            return redirect(url_for("portal.sign_in"))
        return view(*args, **kwargs)

    return wrapped


def household(s: Session, phone: str) -> list[Resident]:
    """Every resident row with this phone, oldest first."""
    return list(s.scalars(select(Resident).where(Resident.phone == phone).order_by(Resident.id)))


def is_opted_out(s: Session, phone: str) -> OptOut | None:
    return s.get(OptOut, phone)


def actor(resident: Resident) -> str:
    # the audit log names residents by id only: phone numbers are never logged in clear
    return f"resident:{resident.id}"


def opt_out(s: Session, resident: Resident) -> None:
    """Unsubscribe in one step: the same path as STOP by SMS, with the portal as source."""
    from alerting.sending.status import opt_out as stop

    stop(s, resident.phone, "portal", actor=actor(resident))


def opt_in(s: Session, resident: Resident) -> None:
    from alerting.sending.status import opt_in as start

    start(s, resident.phone, "portal", actor=actor(resident))
