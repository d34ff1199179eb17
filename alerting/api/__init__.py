"""The JSON API under /api/v1: staff sessions (with CSRF) or Bearer API keys."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from alerting import csrf
from alerting.areas import AreaError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _csrf_for_cookie_sessions() -> None:
    """A browser session must prove CSRF; a Bearer key cannot be sent by a forged form."""
    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    if not bearer and current_user.is_authenticated:
        csrf.protect()
    g.api = True


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    return jsonify(error="CSRF check failed", detail=exc.description), 400


@bp.errorhandler(AreaError)
def _area_error(exc: AreaError):
    return jsonify(exc.as_dict()), 422


from alerting.api import (  # noqa: E402,F401  (routes register on bp)
    alerts,
    areas,
    cap,
    errors,
    exercises,
    openapi,
    triggers,
)
