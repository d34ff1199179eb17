"""Interface languages (Flask-Babel): en, nb, sv, da, chosen by anyone and remembered.

Order: the language picked with the switcher (kept in the session), then the signed-in staff
user's saved language, then the browser's Accept-Language. Catalogs come from two directories,
so the residents' portal keeps its own.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel
from flask_login import current_user

from alerting import ROOT

LOCALES = ("en", "nb", "sv", "da")
LOCALE_NAMES = {"en": "English", "nb": "Norsk bokmål", "sv": "Svenska", "da": "Dansk"}
TRANSLATION_DIRECTORIES = (
    ROOT / "alerting" / "translations",
    ROOT / "alerting" / "portal" / "translations",
)

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    if current_user and current_user.is_authenticated:
        saved = getattr(current_user, "language", None)
        if saved in LOCALES:
            return saved
    return request.accept_languages.best_match(LOCALES) or "en"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only paths on this site: never redirect to another host after a form."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.post("/language")
def set_language():
    """The language switcher: remembered in the session, and on the account when signed in."""
    lang = request.form.get("lang", "")
    if lang in LOCALES:
        session["lang"] = lang
        if current_user.is_authenticated and current_user.language != lang:
            from alerting import audit
            from alerting.auth import principal
            from alerting.db import db

            s = db()
            user = s.merge(current_user._get_current_object())
            user.language = lang
            audit.record(s, principal(), "staff.language", user.email, language=lang)
            s.commit()
    return redirect(
        safe_next(request.form.get("next") or request.referrer and urlsplit(request.referrer).path)
    )


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "en"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in TRANSLATION_DIRECTORIES)
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)

    @app.context_processor
    def _languages() -> dict:
        from flask_babel import get_locale

        from alerting.languages import language_name

        return {
            "interface_locales": LOCALE_NAMES,
            "current_locale": str(get_locale()),
            "language_name": language_name,
        }
