"""The OpenAPI 3.1 description of /api/v1: it validates, describes every route (and no route that
is not there), is public, and holds against the live app under schemathesis: no 5xx for any
input it generates, and every answer (status, content type, body) as the document says."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from stack import LiveApp
from staff_helpers import make_staff, sign_in

from alerting.api.request_models import EXAMPLE_AREA
from alerting.models import CATEGORIES

EXAMPLES = 25  # per operation and mode: about a minute for the whole API
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_the_document_is_public_and_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the first error
    new_alert = document["components"]["schemas"]["NewAlert"]
    assert new_alert["properties"]["category"]["enum"] == list(CATEGORIES)
    assert {"category", "severity", "title", "message"} <= set(new_alert["required"])


def _api_routes(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_every_api_route_is_described_and_nothing_else(app, client):
    document = client.get("/api/v1/openapi.json").json
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routes = _api_routes(app)
    assert routes - described == set(), "routes without an @operation (alerting.api.contract)"
    assert described - routes == set(), "descriptions of routes that do not exist"


def test_the_interactive_page_is_for_signed_in_staff(app, client):
    anonymous = client.get("/api-docs")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    make_staff(app, "viewer@example.org", "viewer")
    sign_in(client, "viewer@example.org")
    page = client.get("/api-docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "vendor/swagger-ui/swagger-ui-bundle.js" in html and "/api/v1/openapi.json" in html
    assert "<script>" not in html  # the CSP allows no inline script


@pytest.fixture
def live(app: Flask):
    server = LiveApp(app)
    yield server
    server.shutdown()


def _an_alert(client, auth: dict[str, str]) -> int:
    """A real alert for the operations on /alerts/{id} to act on (not only unknown ids)."""
    response = client.post(
        "/api/v1/alerts",
        headers=auth,
        json={
            "area": EXAMPLE_AREA,
            "category": "water",
            "severity": "minor",
            "title": "Boil your water",
            "message": "Boil tap water before drinking it.",
        },
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_schemathesis_finds_no_5xx_and_no_answer_the_document_does_not_describe(
    app, client, api_key, live
):
    auth = {"Authorization": f"Bearer {api_key}"}  # a coordinator: every operation is allowed
    alert_id = _an_alert(client, auth)
    schema = schemathesis.openapi.from_url(f"{live.url}/api/v1/openapi.json")
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        strategies = [operation.as_strategy(mode) for mode in GenerationMode]
        if any(p.name == "alert_id" for p in operation.path_parameters):
            strategies.append(operation.as_strategy(path_parameters={"alert_id": alert_id}))
        for strategy in strategies:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,  # the same inputs on every run: CI is not a lottery
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def call(case) -> None:
                response = case.call(base_url=live.url, headers=auth)
                case.validate_response(response, checks=CHECKS)

            try:
                call()
            except Exception as exc:  # one entry per operation, all of them reported at once
                failures.setdefault(operation.label, str(exc)[:2000])
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_a_nul_character_in_any_text_is_refused_not_a_500(client, api_key):
    """Found by schemathesis on PostgreSQL, whose text and JSON columns cannot hold NUL: a
    follow-up titled "a\\u0000b" crashed the request. No text we take means anything with one."""
    auth = {"Authorization": f"Bearer {api_key}"}
    alert_id = _an_alert(client, auth)
    for path, body in [
        (f"/api/v1/alerts/{alert_id}/follow-up", {"title": "a\u0000b", "message": "x"}),
        (
            "/api/v1/alerts",
            {
                "area": EXAMPLE_AREA,
                "category": "water",
                "severity": "minor",
                "title": "t",
                "message": {"default": "x\u0000"},
            },
        ),
    ]:
        response = client.post(path, headers=auth, json=body)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.json["error"] == "NUL character"
    literal = client.post(  # a backslash followed by "u0000" is text like any other
        f"/api/v1/alerts/{alert_id}/follow-up",
        headers=auth,
        json={"title": "C:\\u0000", "message": "x"},
    )
    assert literal.status_code == 201


def _new_alert(**fields) -> dict:
    return {
        "area": EXAMPLE_AREA,
        "category": "water",
        "severity": "minor",
        "title": "Boil your water",
        "message": "Boil tap water before drinking it.",
    } | fields


def test_refusals_keep_the_domain_words_and_say_what_a_field_must_be(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    cases = [
        (
            _new_alert(category="storm"),
            "unknown category",
            "choose one of water, evacuation, fire, flood, gas, info, test",
        ),
        (_new_alert(title=None), "missing title", "give a title of 1 to 200 characters"),
        (
            _new_alert(call_undelivered_after=0),
            "invalid call_undelivered_after",
            "call_undelivered_after is a whole number from 1 to 1440 or null",
        ),
        (
            _new_alert(spoken_texts={"nb": "x" * 1601}),
            "spoken text too long",
            "the 'nb' spoken text has 1601 characters; at most 1600",
        ),
    ]
    for body, error, detail in cases:
        response = client.post("/api/v1/alerts", headers=auth, json=body)
        assert response.status_code == 422, response.json
        assert response.json == {"error": error, "detail": detail}
    listed = client.get("/api/v1/alerts?exercise=maybe", headers=auth)
    assert listed.status_code == 422
    assert listed.json == {
        "error": "invalid exercise",
        "detail": "exercise is one of true, false or null",
    }


def test_the_voice_fields_are_described_and_taken(client, api_key):
    document = client.get("/api/v1/openapi.json").json
    fields = document["components"]["schemas"]["NewAlert"]["properties"]
    assert {"type": "integer", "minimum": 1, "maximum": 1440} in fields["call_undelivered_after"][
        "anyOf"
    ]
    assert "spoken_texts" in fields
    response = client.post(
        "/api/v1/alerts",
        headers={"Authorization": f"Bearer {api_key}"},
        json=_new_alert(spoken_texts={"nb": "Kok vannet."}, call_undelivered_after=30),
    )
    assert response.status_code == 201, response.json
