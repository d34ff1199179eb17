"""The resident register: search by phone or name, and the import upload with refused rows."""

from __future__ import annotations

import contextlib

from flask import render_template, request
from flask_babel import gettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from alerting import audit, current
from alerting.auth import principal, require_role
from alerting.db import db
from alerting.models import OptOut, Resident
from alerting.phones import PhoneError, mask, parse_phone
from alerting.register_import import ReadOptions, Reason, RegisterFileError, import_bytes
from alerting.staff import bp
from alerting.staff.forms import ImportForm, SearchForm

PAGE = 50


@bp.get("/residents")
@require_role("viewer")
def resident_list():
    form = SearchForm(request.args)
    s = db()
    query = select(Resident).options(selectinload(Resident.locations)).order_by(Resident.id)
    q = (form.q.data or "").strip()
    show_phone = principal().has_role("admin")
    if q:
        query = query.where(or_(*_search_conditions(q, show_phone)))
    page = max(request.args.get("page", 1, type=int), 1)
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if q and not show_phone:
        # a lookup below admin is a look at personal data: who searched, never the number itself
        audit.record(s, principal(), "register.search", "residents", query=mask(q), found=total)
        s.commit()
    residents = s.scalars(query.limit(PAGE).offset((page - 1) * PAGE)).all()
    opted_out = set(
        s.scalars(select(OptOut.phone).where(OptOut.phone.in_([r.phone for r in residents])))
    )
    return render_template(
        "staff/residents.html",
        form=form,
        residents=residents,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        opted_out=opted_out,
        phone=(lambda p: p) if show_phone else mask,
        import_form=ImportForm(),
        report=None,
    )


def _search_conditions(q: str, admin: bool) -> list:
    """Names by a part; numbers whole (E.164 equality) below admin, so a search by digits cannot
    spell out the masked numbers one guess at a time. Admins see numbers anyway: a part is fine."""
    conditions = [Resident.name.ilike(f"%{q}%")]
    if admin:
        conditions.append(Resident.phone.contains(q.replace(" ", "")))
    with contextlib.suppress(PhoneError):  # not a phone number: search the name only
        conditions.append(Resident.phone == parse_phone(q, current.settings().default_region).e164)
    return conditions


@bp.route("/residents/import", methods=["GET", "POST"])
@require_role("admin")
def resident_import():
    form = ImportForm()
    report = error = None
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        settings = current.settings()
        options = ReadOptions(
            crs=form.crs.data or None,
            allow_outside=form.allow_outside.data,
            boundary=settings.municipality_boundary,
        )
        s = db()
        try:
            report = import_bytes(
                s,
                upload.filename or "upload.csv",
                upload.read(),
                settings.default_region,
                settings.default_language,
                options,
            )
        except RegisterFileError as exc:
            s.rollback()
            error, status = translated(exc.reason), 422
        else:
            audit.record(
                s,
                principal(),
                "register.import",
                upload.filename or "",
                **{k: v for k, v in report.as_dict().items() if k not in ("refused", "notes")},
                refused=len(report.refused),
            )
            s.commit()
    elif request.method == "POST":
        status = 400
    return render_template(
        "staff/import.html", form=form, report=report, error=error, translated=translated
    ), status


def translated(reason: Reason) -> str:
    """A reason in the staff member's language (its English text where no catalog has it)."""
    return gettext(reason.template, **reason.params)
