"""The staff web UI: sign-in, map and preview, compose and send, live delivery, lists, admin.

One module per concern: `signin` (sign-in, lock-out, sign-out), `areas` (map, saved areas, points),
`alerts` (compose, confirm, alert page, progress, cancel, follow-up, export), `register`
(residents and imports), `admin` (audit log, staff accounts, provider settings).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError

from alerting import current

bp = Blueprint("staff", __name__)


@bp.after_request
def _no_outside_loads(response):
    """Nothing but the app itself and the configured tile server may be loaded by staff pages."""
    tiles = current.settings().tile_url.split("/{")[0]
    tile_origin = "/".join(tiles.split("/")[:3]) if "://" in tiles else ""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: {tile_origin}; connect-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.app_errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    return render_template("staff/error.html", code=400, message=exc.description), 400


@bp.app_errorhandler(403)
def _forbidden(_exc):
    return render_template("staff/error.html", code=403, message=None), 403


from alerting.staff import admin, alerts, api_keys, areas, register, signin  # noqa: E402,F401
