"""The residents' self-service portal (`/me`) and the public map of current alerts (`/public`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

bp = Blueprint("portal", __name__, url_prefix="/me")


@bp.context_processor
def template_context() -> dict[str, Any]:
    """What every portal page (and the public map) needs: language, resident, switcher."""
    from flask_babel import get_locale

    from alerting.portal.residents import UI_LANGUAGES, current_resident

    return {
        "portal_lang": str(get_locale() or "en"),
        "portal_resident": current_resident(),
        "ui_languages": UI_LANGUAGES,
    }


def init_app(app: Flask) -> None:
    """Register the portal and the public map on `app`."""
    import alerting.portal.address_check  # noqa: F401  (a route on the public map)
    from alerting.portal import (  # noqa: F401  (routes)
        cap_feed,
        places,
        privacy,
        public,
        settings,
        signin,
    )

    app.register_blueprint(bp)
    app.register_blueprint(public.bp)
