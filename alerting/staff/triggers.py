"""The admin page for triggers: set one up for a sensor (its secret is shown once, with the
call to make), see every call it received and what came of it, switch it off and on."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alerting import audit
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import LIFE_SAFETY, Area, Trigger, TriggerFiring
from alerting.staff import bp
from alerting.staff.forms import ActionForm, TriggerForm
from alerting.triggers import create_trigger

FIRINGS_SHOWN = 50


def _form(formdata=None) -> TriggerForm:
    form = TriggerForm() if formdata is None else TriggerForm(formdata=formdata)
    areas = db().execute(select(Area.id, Area.name).order_by(Area.name)).all()
    form.area_id.choices = [(area_id, name) for area_id, name in areas]
    return form


def _page(form: TriggerForm, created: tuple[Trigger, str] | None = None, status: int = 200):
    s = db()
    triggers = s.scalars(select(Trigger).order_by(Trigger.name)).all()
    firings = s.execute(
        select(TriggerFiring, Trigger.name)
        .join(Trigger, Trigger.id == TriggerFiring.trigger_id)
        .order_by(TriggerFiring.id.desc())
        .limit(FIRINGS_SHOWN)
    ).all()
    area_names = dict(s.execute(select(Area.id, Area.name)).all())
    return render_template(
        "staff/triggers.html",
        form=form,
        triggers=triggers,
        firings=firings,
        area_names=area_names,
        action_form=ActionForm(),
        created=created,
        fire_url=url_for("api.fire_trigger", name="NAME", _external=True),
    ), status


@bp.route("/triggers", methods=["GET", "POST"])
@require_role("admin")
def trigger_list():
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=400 if request.method == "POST" else 200)
    if (
        form.auto_send.data
        and form.category.data in LIFE_SAFETY
        and not form.life_safety_auto_send.data
    ):
        form.life_safety_auto_send.errors = [
            _("A life-safety trigger that sends at once needs this box ticked too.")
        ]
        return _page(form, status=422)
    s = db()
    try:
        created = create_trigger(
            s,
            principal(),
            name=form.name.data,
            area_id=form.area_id.data,
            category=form.category.data,
            severity=form.severity.data,
            title=form.title.data,
            texts={"default": form.text.data},
            auto_send=form.auto_send.data,
            life_safety_auto_send=form.life_safety_auto_send.data,
            dedup_minutes=form.dedup_minutes.data,
        )
    except IntegrityError:
        s.rollback()
        flash(_("A trigger with that name exists already."), "error")
        return _page(form, status=422)
    except ValueError as exc:  # checked above; our own words, should the rules change
        s.rollback()
        flash(str(exc), "error")
        return _page(form, status=422)
    # rendered, not redirected: the secret must not travel in a (signed, readable) flash cookie
    return _page(_form(formdata={}), created=created, status=201)


@bp.post("/triggers/<int:trigger_id>/active")
@require_role("admin")
def trigger_active(trigger_id: int):
    """Switch a trigger off (its calls are refused with 404) or back on."""
    if ActionForm().validate_on_submit():
        s = db()
        trigger = s.get(Trigger, trigger_id) or abort(404)
        trigger.active = not trigger.active
        action = "trigger.enable" if trigger.active else "trigger.disable"
        audit.record(s, principal(), action, f"trigger:{trigger.name}")
        s.commit()
        message = (
            _("Trigger “%(name)s” is on.") if trigger.active else _("Trigger “%(name)s” is off.")
        )
        flash(message % {"name": trigger.name}, "info")
    return redirect(url_for("staff.trigger_list"))
