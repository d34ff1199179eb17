"""Every error under /api/ is JSON `{"error", "detail"}`, the shape the API's own refusals use.

Flask answers HTML for what no view handles: a URL no route matches (404), a wrong method (405),
a body over the limit (413), a malformed body (400), a crash (500). Unmatched URLs belong to no
blueprint, so the handler is registered on the app too, and answers JSON only under /api/.
"""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from alerting.api import bp
from alerting.bounded_json import JSONInputError

API_PREFIX = "/api/"


def _detail(exc: HTTPException) -> tuple[str, str]:
    if exc.code == 404:
        return "not found", f"there is nothing at {request.path}"
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(sorted(set(exc.valid_methods or ()) - {"HEAD", "OPTIONS"}))
        return "method not allowed", f"{request.method} is not allowed here; use {allowed}"
    if exc.code == 413:
        limit = request.max_content_length or 0
        return "request too large", f"the body may be at most {limit // (1024 * 1024)} MB"
    if exc.code == 500:
        return "internal error", "something went wrong on our side; it is logged"
    return (exc.name or "error").lower(), exc.description or ""


@bp.errorhandler(HTTPException)
def json_error(exc: HTTPException) -> tuple[Response, int]:
    error, detail = _detail(exc)
    return jsonify(error=error, detail=detail), exc.code or 500


@bp.errorhandler(JSONInputError)
def _json_refused(exc: JSONInputError) -> tuple[Response, int]:
    return jsonify(exc.as_dict()), 422


def _app_error(exc: HTTPException):
    """URLs no route matched: JSON under /api/, Flask's own page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return json_error(exc)
    return exc


bp.record_once(lambda state: state.app.register_error_handler(HTTPException, _app_error))
