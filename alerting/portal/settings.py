"""What a resident receives: language, categories, quiet hours, pause, and opting in or out.

Life-safety categories (evacuation, fire, flood, gas) cannot be declined, paused or held by quiet
hours; the planner enforces that, and these pages only ever offer the other categories.
"""

from __future__ import annotations

from datetime import time

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from alerting.db import db
from alerting.models import CATEGORIES, LIFE_SAFETY, ConsentEvent, Resident
from alerting.portal import bp
from alerting.portal.places import label_names
from alerting.portal.residents import (
    UI_LANGUAGES,
    current_resident,
    household,
    is_opted_out,
    opt_in,
    opt_out,
    require_resident,
)

OPTIONAL_CATEGORIES = tuple(c for c in CATEGORIES if c not in LIFE_SAFETY)


def category_names() -> dict[str, str]:
    return {
        "water": _("Water and utility notices"),
        "info": _("General information"),
        "test": _("Test messages"),
        "evacuation": _("Evacuation"),
        "fire": _("Fire"),
        "flood": _("Flood"),
        "gas": _("Gas leak"),
    }


def _me() -> Resident:
    resident = current_resident()
    assert resident is not None
    return resident


def _update_household(**values: object) -> None:
    s = db()
    for member in household(s, _me().phone):
        for name, value in values.items():
            setattr(member, name, value)
    s.commit()


@bp.get("/settings")
@require_resident
def settings() -> str:
    me = _me()
    s = db()
    members = household(s, me.phone)
    places = [place for member in members for place in member.locations]
    return render_template(
        "portal/settings.html",
        me=me,
        places=places,
        labels=label_names(),
        opted_out=is_opted_out(s, me.phone),
        languages=UI_LANGUAGES,
        categories=category_names(),
        optional=OPTIONAL_CATEGORIES,
        life_safety=LIFE_SAFETY,
        consent=list(
            s.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.phone == me.phone)
                .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
            )
        ),
        consent_actions={"opt_in": _("Opted in"), "opt_out": _("Opted out")},
        consent_sources={
            "import": _("municipal register"),
            "self_signup": _("signed up here"),
            "sms": _("by SMS"),
            "portal": _("on this site"),
            "provider": _("by the phone company"),
        },
    )


@bp.post("/language")
@require_resident
def set_language() -> Response:
    code = request.form.get("language", "")
    if code in UI_LANGUAGES:
        _update_household(language=code)
        session["lang"] = code
        flash(_("Language saved."), "info")
    return redirect(url_for("portal.settings"))


@bp.post("/categories")
@require_resident
def set_categories() -> Response:
    wanted = set(request.form.getlist("categories"))
    declined = [c for c in OPTIONAL_CATEGORIES if c not in wanted]
    _update_household(declined_categories=declined)
    flash(_("Alert types saved."), "info")
    return redirect(url_for("portal.settings"))


def _time(name: str) -> time | None:
    try:
        return time.fromisoformat(request.form.get(name, "").strip()).replace(second=0)
    except ValueError:
        return None


@bp.post("/quiet-hours")
@require_resident
def set_quiet_hours() -> Response:
    if not request.form.get("enabled"):
        _update_household(quiet_start=None, quiet_end=None)
        flash(_("Quiet hours turned off."), "info")
        return redirect(url_for("portal.settings"))
    start, end = _time("start"), _time("end")
    if start is None or end is None or start == end:
        flash(
            _("Give a start and an end time for quiet hours, for example 22:00 and 07:00."), "error"
        )
        return redirect(url_for("portal.settings"))
    _update_household(quiet_start=start, quiet_end=end)
    flash(_("Quiet hours saved."), "info")
    return redirect(url_for("portal.settings"))


@bp.post("/pause")
@require_resident
def set_paused() -> Response:
    paused = bool(request.form.get("paused"))
    _update_household(paused=paused)
    if paused:
        flash(_("Alerts paused. You will still get life-safety alerts."), "info")
    else:
        flash(_("Alerts resumed."), "info")
    return redirect(url_for("portal.settings"))


@bp.post("/exercises")
@require_resident
def set_exercise_volunteer() -> Response:
    """Volunteer for exercises: exercise alerts for an area you have a place in reach you too."""
    volunteer = bool(request.form.get("volunteer"))
    _update_household(exercise_volunteer=volunteer)
    if volunteer:
        flash(_("Thank you: exercises for your places will reach you, marked EXERCISE."), "info")
    else:
        flash(_("You will get no exercises."), "info")
    return redirect(url_for("portal.settings"))


@bp.post("/unsubscribe")
@require_resident
def unsubscribe() -> Response:
    s = db()
    opt_out(s, _me())
    s.commit()
    flash(_("You are unsubscribed and will get no more SMS alerts."), "info")
    return redirect(url_for("portal.settings"))


@bp.post("/subscribe")
@require_resident
def subscribe() -> Response:
    s = db()
    opt_in(s, _me())
    s.commit()
    flash(_("Welcome back: you will get SMS alerts again."), "info")
    return redirect(url_for("portal.settings"))
