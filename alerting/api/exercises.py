"""Who an exercise would reach: the test group of an area (staff phones, volunteers inside)."""

from __future__ import annotations

from flask import jsonify

from alerting.api import bp
from alerting.api.areas import area_from_request
from alerting.auth import require_role
from alerting.db import db
from alerting.exercises import test_group_counts


@bp.post("/areas/exercise-preview")
@require_role("viewer", api=True)
def exercise_preview():
    """`{"area": <GeoJSON>}` → `{"phones", "staff", "volunteers", "opted_out"}`."""
    return jsonify(test_group_counts(db(), area_from_request()))
