"""The admin page for API keys: list, create (the key is shown once), set an expiry, revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alerting import audit
from alerting.auth import api_key_state, create_api_key, end_of_day, principal, require_role
from alerting.db import db
from alerting.models import ApiKey
from alerting.staff import bp
from alerting.staff.forms import ActionForm, ApiKeyExpiryForm, ApiKeyForm


def _page(form: ApiKeyForm, new_key: str | None = None, status: int = 200):
    keys = db().scalars(select(ApiKey).order_by(ApiKey.id)).all()
    expiry_forms = {
        k.id: ApiKeyExpiryForm(
            prefix=f"k{k.id}", formdata=None, expires=k.expires_at.date() if k.expires_at else None
        )
        for k in keys
    }
    return render_template(
        "staff/api_keys.html",
        form=form,
        keys=keys,
        state=api_key_state,
        expiry_forms=expiry_forms,
        action_form=ActionForm(),
        new_key=new_key,
    ), status


@bp.route("/api-keys", methods=["GET", "POST"])
@require_role("admin")
def api_keys():
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=400 if request.method == "POST" else 200)
    s = db()
    who = principal()
    try:
        row, key = create_api_key(
            s, form.name.data, form.role.data, who.audit_name, end_of_day(form.expires.data)
        )
        s.flush()
    except IntegrityError:
        s.rollback()
        flash(_("An API key with that name exists already."), "error")
        return _page(form, status=422)
    audit.record(s, who, "apikeys.create", row.name, role=row.role, expires=str(row.expires_at))
    s.commit()
    # rendered, not redirected: the key must not travel in a (signed, readable) flash cookie
    return _page(ApiKeyForm(formdata=None), new_key=key, status=201)


def _key_or_404(key_id: int) -> ApiKey:
    return db().get(ApiKey, key_id) or abort(404)


@bp.post("/api-keys/<int:key_id>/revoke")
@require_role("admin")
def api_key_revoke(key_id: int):
    if ActionForm().validate_on_submit():
        s = db()
        key = _key_or_404(key_id)
        key.revoked = True
        audit.record(s, principal(), "apikeys.revoke", key.name)
        s.commit()
        flash(_("Key “%(name)s” revoked.", name=key.name), "info")
    return redirect(url_for("staff.api_keys"))


@bp.post("/api-keys/<int:key_id>/expiry")
@require_role("admin")
def api_key_expiry(key_id: int):
    form = ApiKeyExpiryForm(prefix=f"k{key_id}")
    if form.validate_on_submit():
        s = db()
        key = _key_or_404(key_id)
        key.expires_at = end_of_day(form.expires.data)
        audit.record(s, principal(), "apikeys.expiry", key.name, expires=str(key.expires_at))
        s.commit()
        flash(_("Key “%(name)s” updated.", name=key.name), "info")
    else:
        flash(_("Give a date like 2026-12-31."), "error")
    return redirect(url_for("staff.api_keys"))
