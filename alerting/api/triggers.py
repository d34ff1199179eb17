"""POST /api/v1/triggers/{name}/fire: a sensor's signed call (alerting.triggers); the signature,
not an API key, is the caller's credential."""

from __future__ import annotations

from flask import jsonify, request

from alerting.api import bp
from alerting.db import db
from alerting.triggers import TriggerRefused, fire


@bp.post("/triggers/<name>/fire")
def fire_trigger(name: str):
    session = db()
    try:
        status, answer = fire(session, name, request.headers, request.get_data(cache=False))
    except TriggerRefused as exc:
        session.rollback()
        return jsonify(exc.as_dict()), exc.status
    return jsonify(answer), status
