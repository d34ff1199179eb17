"""Who an exercise would reach: the test group of an area (staff phones, volunteers inside)."""

from __future__ import annotations

from flask import jsonify

from alerting.api import bp
from alerting.api.alerts import WRITE
from alerting.api.answer_models import TestGroup
from alerting.api.areas import checked_area
from alerting.api.contract import operation
from alerting.api.request_models import AreaRequest
from alerting.auth import require_role
from alerting.db import db
from alerting.exercises import test_group_counts


@bp.post("/areas/exercise-preview")
@require_role("viewer", api=True)
@operation(
    "Who an exercise in an area would reach: its test group",
    body=AreaRequest,
    ok={200: (TestGroup, "done")},
    errors=WRITE,
)
def exercise_preview(body: AreaRequest):
    return jsonify(test_group_counts(db(), checked_area(body)))
