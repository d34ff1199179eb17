"""The API's description for staff: the OpenAPI document (alerting.api.openapi) in Swagger UI."""

from __future__ import annotations

from flask import render_template

from alerting.auth import require_role
from alerting.staff import bp


@bp.get("/api-docs")
@require_role("viewer")
def api_docs():
    return render_template("staff/api_docs.html")
