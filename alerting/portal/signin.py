"""Sign-up and sign-in with a code sent by SMS; the answer never tells whether a number is known."""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from alerting import audit, current
from alerting.db import db
from alerting.i18n import safe_next
from alerting.models import Resident
from alerting.phones import PhoneError, mask, parse_phone
from alerting.portal import bp
from alerting.portal.codes import Check, check_code, issue_sealed_code
from alerting.portal.limits import record_code_request
from alerting.portal.residents import (
    SESSION_KEY,
    UI_LANGUAGES,
    actor,
    current_resident,
    household,
)
from alerting.redis_conn import connect
from alerting.sending.status import opt_in
from alerting.sending.transactional import CODE_SLOT, enqueue_code

PENDING_PHONE = "portal_phone"


def _redis():
    conn = current_app.extensions.get("alerting.portal.redis")
    if conn is None:
        conn = current_app.extensions["alerting.portal.redis"] = connect(
            current.settings().redis_url
        )
    return conn


def _limit_message(scope: str) -> str:
    if scope == "number":
        return _("Too many codes have been sent to this number. Please wait an hour and try again.")
    if scope == "ip":
        return _(
            "Too many codes have been requested from your network. "
            "Please wait an hour and try again."
        )
    return _("We are sending too many codes right now. Please try again later.")


@bp.get("")
def index() -> Response | str:
    if current_resident() is None:
        return redirect(url_for("portal.sign_in"))
    return redirect(url_for("portal.settings"))


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | tuple[str, int] | str:
    if request.method == "GET":
        return render_template("portal/sign_in.html", phone="")
    settings = current.settings()
    raw = request.form.get("phone", "")
    try:
        phone = parse_phone(raw, settings.default_region)
    except PhoneError:
        flash(_("That is not a phone number we can use. Check the number and try again."), "error")
        return render_template("portal/sign_in.html", phone=raw), 422
    if not phone.mobile:
        flash(_("This number cannot receive SMS. Use a mobile number."), "error")
        return render_template("portal/sign_in.html", phone=raw), 422
    hit = record_code_request(
        _redis(),
        phone.e164,
        request.remote_addr or "",
        settings.signin_codes_per_number,
        settings.signin_codes_per_ip,
        settings.signin_codes_per_hour,
        secret=settings.secret_key,
    )
    if hit is not None:
        current_app.logger.warning(
            "sign-in code refused (%s limit) for %s", hit.scope, mask(phone.e164)
        )
        flash(_limit_message(hit.scope), "error")
        return render_template("portal/sign_in.html", phone=raw), 429
    s = db()
    code_id, sealed = issue_sealed_code(
        s, phone.e164, request.remote_addr or "", settings.signin_code_minutes, settings.secret_key
    )
    s.commit()
    enqueue_code(
        phone.e164,
        _(
            "Your sign-in code is %(code)s. It expires in %(minutes)d minutes.",
            code=CODE_SLOT,
            minutes=settings.signin_code_minutes,
        ),
        code_id,
        sealed,
    )
    session[PENDING_PHONE] = phone.e164
    return redirect(url_for("portal.verify"))


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Response | tuple[str, int] | str:
    phone = session.get(PENDING_PHONE)
    if not phone:
        return redirect(url_for("portal.sign_in"))
    settings = current.settings()
    page = {"masked": mask(phone), "minutes": settings.signin_code_minutes}
    if request.method == "GET":
        return render_template("portal/verify.html", **page)
    s = db()
    result = check_code(s, phone, request.form.get("code", ""), settings.signin_code_attempts)
    s.commit()
    if result is Check.OK:
        residents = household(s, phone)
        resident = residents[0] if residents else _sign_up(phone)
        session.pop(PENDING_PHONE, None)
        session[SESSION_KEY] = resident.id
        if resident.language in UI_LANGUAGES:
            session.setdefault("lang", resident.language)
        if not resident.locations and len(residents) <= 1:
            flash(_("Welcome! Add the places where you want to be alerted."), "info")
            return redirect(url_for("portal.places"))
        return redirect(url_for("portal.settings"))
    if result is Check.WRONG:
        flash(_("That code is not right. Check the SMS and try again."), "error")
        return render_template("portal/verify.html", **page), 422
    if result is Check.EXHAUSTED:
        flash(_("Too many wrong attempts. Ask for a new code."), "error")
    else:
        flash(_("The code has expired. Ask for a new code."), "error")
    session.pop(PENDING_PHONE, None)
    return render_template("portal/sign_in.html", phone=""), 422


def _sign_up(phone: str) -> Resident:
    """A new resident who proved they own `phone`; signing up is their opt-in, so it also ends
    an earlier STOP (one kept from before a deletion included)."""
    s = db()
    # the language of the pages they signed up on: they can read it
    language = str(get_locale() or current.settings().default_language)
    resident = Resident(phone=phone, language=language, source="self", reachable=True)
    s.add(resident)
    s.flush()
    opt_in(s, phone, "self_signup", actor=actor(resident))
    audit.record(s, actor(resident), "resident.signed_up", f"resident:{resident.id}")
    s.commit()
    return resident


@bp.post("/sign-out")
def sign_out() -> Response:
    session.pop(SESSION_KEY, None)
    session.pop(PENDING_PHONE, None)
    flash(_("You are signed out."), "info")
    return redirect(url_for("portal.sign_in"))


@bp.get("/language/<code>")
def choose_ui_language(code: str) -> Response:
    """Switch the language of these pages (signed-in residents choose their SMS language too)."""
    if code in UI_LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("portal.index")))
