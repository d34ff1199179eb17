"""The OpenAPI 3.1 description of the JSON API, served at GET /api/v1/openapi.json (public: the
contract is no secret; the interactive page built on it is for staff, alerting.staff.api_docs).

Generated, not written: the paths are the app's own /api/v1 routes, each described by the
`@operation` that also validates its requests (alerting.api.contract), and the schemas are the
JSON Schema of the pydantic models in alerting.api.request_models and answer_models. A route
without an `@operation` is left out, and tests/test_openapi.py fails on it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from alerting.api import bp
from alerting.api.answer_models import Error
from alerting.api.contract import Operation, RawBody, operation

Schema = dict[str, Any]
PREFIX = "/api/v1/"
REF = "#/components/schemas/{model}"
JSON = "application/json"
REQUEST, ANSWER = "validation", "serialization"  # pydantic's JSON Schema modes
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")

ERROR_TEXT = {
    400: "malformed request (or a browser session without its CSRF token)",
    401: "no credential, or an unknown, revoked or expired API key",
    403: "the caller's role may not do this",
    404: "no such alert (or area, trigger)",
    409: "the alert's state does not allow it now, or a message received twice",
    413: "the body is larger than 4 MiB",
    422: "refused input; `detail` says how to fix it",
}


def _routes(app: Flask) -> list[tuple[Rule, str, Operation]]:
    routes = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions[rule.endpoint], "openapi", None)
        if rule.rule.startswith(PREFIX) and op is not None:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((rule, method.lower(), op))
    return routes


def _models(op: Operation) -> list[tuple[type[BaseModel], str]]:
    found = [(op.body, REQUEST)] if isinstance(op.body, type) else []
    found += [(model, ANSWER) for model, _ in op.ok.values() if isinstance(model, type)]
    return found


def _content(model: type[BaseModel] | RawBody, mode: str, refs: dict, media: str) -> Schema:
    """`{media type: {"schema": ...}}` of a body or an answer."""
    if isinstance(model, RawBody):
        return {model.media_type: {"schema": model.schema}}
    return {media: {"schema": refs[(model, mode)]}}


def _parameters(rule: Rule, op: Operation) -> list[Schema]:
    """Path parameters from the rule's converters; query and header ones from their models."""
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0} if conv == "int" else {"type": "string"},
        }
        for conv, name in _PARAM.findall(rule.rule)
    ]
    for where, model in (("query", op.query), ("header", op.headers)):
        if model is None:
            continue
        schema = model.model_json_schema(by_alias=True)
        for name, prop in schema["properties"].items():
            params.append(
                {
                    "name": name,
                    "in": where,
                    "required": name in schema.get("required", ()),
                    "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
                }
                | ({"description": prop["description"]} if "description" in prop else {})
            )
    return params


def _operation(rule: Rule, view: Any, op: Operation, refs: dict) -> Schema:
    role = op.role or getattr(view, "required_role", None)
    role_text = "none: public" if op.public and not role else role
    spec: Schema = {
        "summary": op.summary,
        "description": f"{op.description}\n\nRole: {role_text}.".strip(),
        "tags": [op.tag or rule.rule.removeprefix(PREFIX).split("/")[0]],
        "responses": {
            str(status): {"description": text, "content": _content(model, ANSWER, refs, JSON)}
            for status, (model, text) in sorted(op.ok.items())
        }
        | {
            str(code): {
                "description": ERROR_TEXT[code],
                "content": _content(Error, ANSWER, refs, JSON),
            }
            for code in sorted(op.errors)
        },
    }
    if params := _parameters(rule, op):
        spec["parameters"] = params
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": _content(op.body, REQUEST, refs, op.body_media),
        }
    if op.public:
        spec["security"] = []
    return spec


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s /api/v1 routes."""
    routes = _routes(app)
    wanted = {(Error, ANSWER)}
    for _, _, op in routes:
        wanted.update(_models(op))
    refs, defs = models_json_schema(sorted(wanted, key=lambda m: m[0].__name__), ref_template=REF)
    paths: dict[str, dict[str, Schema]] = {}
    for rule, method, op in routes:
        path = _PARAM.sub(r"{\2}", rule.rule)
        view = app.view_functions[rule.endpoint]
        paths.setdefault(path, {})[method] = _operation(rule, view, op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alerting",
            "version": "1",
            "description": "Geo-targeted SMS alerts. Authorise with `Authorization: Bearer <API "
            "key>` (or a staff session with its CSRF token in X-CSRFToken). Every error is "
            'JSON {"error", "detail"}.',
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API key from the admin's API keys page",
                }
            },
        },
    }


@bp.get("/openapi.json")
@operation(
    "This description",
    ok={200: (RawBody(JSON, {"type": "object"}), "the OpenAPI 3.1 document")},
    errors=(),
    public=True,
)
def openapi_json():
    """Built once per app: the routes and models do not change while it runs."""
    if "alerting.openapi" not in current_app.extensions:
        current_app.extensions["alerting.openapi"] = document(current_app)
    return jsonify(current_app.extensions["alerting.openapi"])
