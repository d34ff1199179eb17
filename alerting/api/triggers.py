"""POST /api/v1/triggers/{name}/fire: a sensor's signed call (alerting.triggers); the signature,
not an API key, is the caller's credential."""

from __future__ import annotations

from flask import jsonify, request

from alerting.api import bp
from alerting.api.answer_models import Fired
from alerting.api.contract import operation
from alerting.api.request_models import TriggerCall, TriggerSignature
from alerting.db import db
from alerting.triggers import TriggerRefused, fire


@bp.post("/triggers/<name>/fire")
@operation(
    "A sensor fires its trigger",
    role="none: the HMAC signature of the trigger's secret is the credential",
    description="The body is read only once its signature holds (alerting.triggers checks "
    "both), so it is described here and validated there.",
    body=TriggerCall,
    validate_body=False,
    headers=TriggerSignature,
    ok={201: (Fired, "an alert was made"), 200: (Fired, "an alert of this event is in force")},
    errors=(400, 401, 404, 409, 413, 422),
    public=True,
)
def fire_trigger(name: str):
    session = db()
    try:
        status, answer = fire(session, name, request.headers, request.get_data(cache=False))
    except TriggerRefused as exc:
        session.rollback()
        return jsonify(exc.as_dict()), exc.status
    return jsonify(answer), status
