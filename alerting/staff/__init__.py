"""The staff web UI: sign-in, map and preview, compose and send, live delivery, lists, admin.

One module per concern: `signin` (sign-in, lock-out, sign-out), `areas` (map, saved areas, points),
`alerts` (compose, confirm, alert page, progress, cancel, follow-up, export), `register`
(residents and imports), `admin` (audit log, staff accounts, provider settings).
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf.csrf import CSRFError

bp = Blueprint("staff", __name__)


@bp.app_errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    return render_template("staff/error.html", code=400, message=exc.description), 400


@bp.app_errorhandler(403)
def _forbidden(_exc):
    return render_template("staff/error.html", code=403, message=None), 403


from alerting.staff import (  # noqa: E402,F401
    admin,
    alerts,
    api_docs,
    api_keys,
    approval,
    area_import,
    areas,
    providers,
    register,
    signin,
    texts,
    triggers,
)
