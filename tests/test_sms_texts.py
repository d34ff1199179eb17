"""Texts residents get, per language: templates in every language, dates in the reader's language
(Babel, in TIMEZONE), the default text for a language without its own, plurals and language names.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from stack import (
    add_resident,
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)
from staff_helpers import csrf_token, make_staff, sign_in

from alerting.models import Alert
from alerting.sms_dates import format_sms_datetime
from alerting.sms_parts import count_parts
from alerting.templates_text import TEMPLATES, fill

OSLO = ZoneInfo("Europe/Oslo")
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
INSIDE = (5.32, 60.39)
DEC_3_8AM = "2026-12-03T08:00"  # what the page's datetime-local input sends: TIMEZONE wall clock


# --- the date rule, per language ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("nb", "3. des. kl. 08:00"),
        ("nn", "3. des. kl. 08:00"),
        ("sv", "3 dec. kl. 08:00"),
        ("da", "3. dec. kl. 08.00"),
        ("en", "3 Dec, 08:00"),  # day first, 24 hours: never "12/3, 08:00 AM"
        ("de", "3. Dez., 08:00"),
    ],
)
def test_sms_dates_are_written_the_readers_way(lang, expected):
    assert format_sms_datetime(datetime(2026, 12, 3, 8, 0), lang, OSLO) == expected


def test_sms_dates_are_in_the_configured_time_zone():
    utc = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 08:00 in Oslo in winter
    assert format_sms_datetime(utc, "nb", OSLO) == "3. des. kl. 08:00"
    summer = datetime(2026, 6, 3, 6, 0, tzinfo=UTC)  # 08:00 in Oslo in summer
    assert format_sms_datetime(summer, "nb", OSLO) == "3. juni kl. 08:00"
    assert format_sms_datetime(utc, "en", ZoneInfo("Europe/London")) == "3 Dec, 07:00"


def test_sms_dates_keep_latin_digits_and_a_24_hour_clock_for_any_language():
    for lang in ("ar", "fa", "hi", "bn", "en", "ko"):
        text = format_sms_datetime(datetime(2026, 12, 3, 20, 5), lang, OSLO)
        assert re.search(r"(?<![0-9])3(?![0-9])", text) and "20:05" in text, (lang, text)
        assert not any(ch.isdigit() and not ch.isascii() for ch in text), (lang, text)
    # a code Babel has no data for gets the English rule, not an error
    assert format_sms_datetime(datetime(2026, 12, 3, 8, 0), "zz", OSLO) == "3 Dec, 08:00"


# --- the templates ---------------------------------------------------------------------------


def test_every_template_has_every_interface_language_and_nynorsk():
    assert "all_clear" in TEMPLATES
    for template in TEMPLATES.values():
        assert set(template.texts) == {"en", "nb", "nn", "sv", "da"}, template.key
        assert set(template.titles) == set(template.texts), template.key
        for lang, text in template.texts.items():
            filled = fill(text, {"area": "Strandvegen", "start": "3. des.", "end": "4. des."})
            assert count_parts(filled).encoding == "GSM-7", (template.key, lang)


def test_a_bracketed_part_is_left_out_while_its_placeholder_is_empty():
    text = TEMPLATES["water_shutoff"].texts["nn"]
    assert fill(text, {"area": "Voss", "start": "", "end": ""}) == (
        "Vatnet blir stengt i Voss. Fyll nokre flasker før det."
    )
    assert fill(text, {"area": "Voss", "start": "3. des. kl. 08:00", "end": ""}) == (
        "Vatnet blir stengt i Voss frå 3. des. kl. 08:00. Fyll nokre flasker før det."
    )


# --- the compose page's template texts (the JSON route) --------------------------------------


def _add_residents(app, *languages: str) -> None:
    """Residents inside SQUARE, phones +4790000001… in order (no `session` fixture: its app
    context would be shared by the test client's requests, and with it Flask-WTF's token)."""
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        for i, lang in enumerate(languages, start=1):
            add_resident(s, f"+479000000{i}", *INSIDE, language=lang)
        s.commit()
        s.close()


def _first_alert(app) -> Alert:
    with app.app_context():
        s = app.extensions["alerting.sessionmaker"]()
        alert = s.scalar(select(Alert))
        s.close()
        return alert


def _texts(client, token, **body):
    return client.post("/alerts/template-texts.json", json=body, headers={"X-CSRFToken": token})


def _signed_in_token(app, client, role="operator", language="en"):
    make_staff(app, f"{role}@example.org", role, language=language)
    sign_in(client, f"{role}@example.org")
    return csrf_token(client.get("/alerts").get_data(as_text=True))


def test_template_texts_have_each_readers_date_and_no_text_for_other_languages(app, client):
    token = _signed_in_token(app, client)
    response = _texts(client, token, template="water_shutoff", area="Voss", start=DEC_3_8AM, end="")
    assert response.status_code == 200, response.json
    texts = response.json["texts"]
    assert texts["nn"] == (
        "Vatnet blir stengt i Voss frå 3. des. kl. 08:00. Fyll nokre flasker før det."
    )
    assert "from 3 Dec, 08:00." in texts["en"]
    assert "från 3 dec. kl. 08:00." in texts["sv"]
    assert "fra 3. dec. kl. 08.00." in texts["da"]
    # DEFAULT_LANGUAGE is nb: its text is the default, and bokmål residents get the default
    assert texts["default"] == (
        "Vannet blir stengt i Voss fra 3. des. kl. 08:00. Fyll noen flasker før det."
    )
    assert "nb" not in texts
    assert "ar" not in texts and "pl" not in texts  # their boxes stay empty: the default is used
    # a time with an offset is written in TIMEZONE
    configure(app, timezone="Europe/Helsinki")
    texts = _texts(client, token, template="all_clear", area="Voss", end="2026-12-03T07:00Z").json
    assert texts["texts"]["nn"] == "Faren er over i Voss frå 3. des. kl. 09:00. Takk for tolmodet."


def test_template_texts_refuse_bad_input_with_a_message(app, client):
    token = _signed_in_token(app, client)
    cases = [
        ({"template": "nope"}, "unknown template"),
        ({"template": "water_shutoff", "start": "tomorrow"}, "invalid time"),
        ({"template": "water_shutoff", "end": 5}, "invalid time"),
        ({"template": "water_shutoff", "area": "x" * 201}, "invalid area name"),
    ]
    for body, error in cases:
        response = _texts(client, token, **body)
        assert response.status_code == 422 and response.json["error"] == error, body
        assert response.json["detail"]
    response = client.post("/alerts/template-texts.json", data="[1", headers={"X-CSRFToken": token})
    assert response.status_code == 422


def test_template_texts_need_the_operator_role_and_the_csrf_token(app, client):
    assert _texts(client, "", template="all_clear").status_code in (302, 400)
    token = _signed_in_token(app, client, role="viewer")
    assert _texts(client, token, template="all_clear").status_code == 403
    client.get("/logout")
    token = _signed_in_token(app, client, role="coordinator")
    assert _texts(client, token, template="all_clear").status_code == 200
    assert _texts(client, "wrong", template="all_clear").status_code == 400


# --- end to end: the page's texts, sent by a real worker, as the simulator received them -------


def test_a_nynorsk_resident_gets_a_norwegian_date_and_arabic_gets_the_default(app, client, stack):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    _add_residents(app, "nn", "ar", "en", "nb")
    token = _signed_in_token(app, client, role="coordinator")
    texts = _texts(
        client, token, template="water_shutoff", area="Voss", start=DEC_3_8AM, end=""
    ).json["texts"]
    # what compose.js does: one box per language in the area, the template's text or empty
    form = {f"text_{lang}": texts.get(lang, "") for lang in ("nn", "ar", "en", "nb")}
    page = client.get("/alerts/new").get_data(as_text=True)
    response = client.post(
        "/alerts/new",
        data={
            "csrf_token": csrf_token(page),
            "area_geojson": json.dumps(SQUARE),
            "area_name": "Voss",
            "category": "water",
            "severity": "minor",
            "title": "Vatn",
            "text_default": texts["default"],
            "send_mode": "now",
            "confirmed": "1",
            **form,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    alert = _first_alert(app)
    assert set(alert.texts) == {"default", "nn", "en"}
    s = stack(workers=1)  # after the form: the live app moves PUBLIC_URL off the test client's
    wait_for(lambda: len(s.sim.messages()) == 4, timeout=20, message="4 SMS")
    bodies = {m["to"]: m["body"] for m in s.sim.messages()}
    assert bodies["+4790000001"] == (
        "Vatnet blir stengt i Voss frå 3. des. kl. 08:00. Fyll nokre flasker før det."
    )
    assert bodies["+4790000002"] == texts["default"] == bodies["+4790000004"]
    assert "from 3 Dec, 08:00." in bodies["+4790000003"]
    assert all(count_parts(b).encoding == "GSM-7" for b in bodies.values())


# --- plurals and language names on the pages --------------------------------------------------


def _page_strings(html: str) -> dict:
    raw = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    return json.loads(raw.group(1))


@pytest.mark.parametrize(
    ("language", "one", "other"),
    [
        ("en", "1 SMS part", "2 SMS parts"),
        ("nb", "1 SMS-del", "2 SMS-deler"),
        ("sv", "1 SMS-del", "2 SMS-delar"),
        ("da", "1 SMS-del", "2 SMS-dele"),
    ],
)
def test_compose_page_gives_its_script_singular_and_plural(app, client, language, one, other):
    _signed_in_token(app, client, language=language)
    data = _page_strings(client.get("/alerts/new").get_data(as_text=True))
    parts = data["strings"]["parts"]
    assert parts["one"].replace("{n}", "1") == one
    assert parts["other"].replace("{n}", "2") == other
    assert data["strings"]["residents"]["one"] != data["strings"]["residents"]["other"] or (
        language == "sv"  # "1 invånare", "2 invånare"
    )


def test_compose_page_names_languages_in_the_interface_language(app, client):
    _signed_in_token(app, client, language="nb")
    names = _page_strings(client.get("/alerts/new").get_data(as_text=True))["languageNames"]
    assert {c: names[c] for c in ("nn", "ar", "nb")} == {
        "nn": "norsk nynorsk",
        "ar": "arabisk",
        "nb": "norsk bokmål",
    }


def test_alert_page_names_languages_and_follow_up_says_one_recipient(app, client):
    _add_residents(app, "nn")
    token = _signed_in_token(app, client, role="coordinator")
    response = client.post(
        "/alerts/new",
        data={
            "csrf_token": token,
            "area_geojson": json.dumps(SQUARE),
            "category": "water",
            "severity": "minor",
            "title": "Vatn",
            "text_default": "Vannet stenges",
            "text_nn": "Vatnet blir stengt",
            "send_mode": "now",
            "confirmed": "1",
        },
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>Norwegian Nynorsk:</strong>" in page
    alert_id = _first_alert(app).id
    with app.app_context():  # its messages: the follow-up page counts exactly those
        from alerting.sending import planning

        planning.plan(alert_id)
    follow_up = client.get(f"/alerts/{alert_id}/follow-up").get_data(as_text=True)
    assert "Goes to exactly the 1 recipient of the first alert." in follow_up
