"""Inbound SMS: STOP-family opts out at once, START-family back in, HELP answers, anything else is
a reply to the last alert the number received."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from stack import add_resident
from test_webhooks import post

from alerting.models import Alert, ConsentEvent, InboundMessage, Message, OptOut
from alerting.sending import planning

PHONE = "+4790000001"
AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


FIRE = dict(
    area=AREA,
    category="fire",
    severity="extreme",
    title="t",
    texts={"default": "x"},
    expires=datetime(2099, 1, 1),  # a life-safety alert needs an end time
)


def sms(client, app, body, phone=PHONE, sid="SM" + "c" * 32):
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "From": phone,
        "To": "Alerting",
        "Body": body,
        "AccountSid": "AC" + "0" * 32,
        "NumMedia": "0",
    }
    return post(client, app, "/webhooks/twilio/inbound", params)


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        " Stop ",
        "STOPALL",
        "unsubscribe",
        "CANCEL",
        "END",
        "quit",
        "REVOKE",
        "OptOut",
    ],
)
def test_stop_words_opt_out(app, client, session, word):
    response = sms(client, app, word)
    assert response.status_code == 200
    assert b"START" in response.data  # the confirmation tells how to come back
    assert session.get(OptOut, PHONE).source == "sms"
    event = session.scalars(select(ConsentEvent)).one()
    assert (event.action, event.source, event.phone) == ("opt_out", "sms", PHONE)


def test_stop_inside_a_sentence_is_a_reply(app, client, session):
    sms(client, app, "please stop the water works")
    assert session.get(OptOut, PHONE) is None
    assert session.scalars(select(InboundMessage.kind)).one() == "reply"


def test_unsigned_inbound_is_403(app, client, session):
    response = client.post("/webhooks/twilio/inbound", data={"From": PHONE, "Body": "STOP"})
    assert response.status_code == 403
    assert session.get(OptOut, PHONE) is None


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
def test_start_words_opt_back_in(app, client, session, word):
    sms(client, app, "STOP", sid="SM1")
    sms(client, app, word, sid="SM2")
    session.expire_all()
    assert session.get(OptOut, PHONE) is None
    actions = session.scalars(select(ConsentEvent.action).order_by(ConsentEvent.id)).all()
    assert actions == ["opt_out", "opt_in"]


def test_help_answers_with_twiml(app, client, session):
    response = sms(client, app, "help")
    assert response.mimetype == "application/xml"
    assert b"<Message>" in response.data and b"STOP" in response.data


def test_a_repeated_webhook_is_handled_once(app, client, session):
    sms(client, app, "STOP")
    sms(client, app, "STOP")
    assert len(session.scalars(select(InboundMessage)).all()) == 1


def test_reply_is_attached_to_the_last_alert_received(app, client, session):
    alerts = []
    for title in ("first", "second"):
        alert = Alert(
            category="water",
            severity="minor",
            title=title,
            texts={"default": "x"},
            area_geojson="{}",
            status="sent",
        )
        session.add(alert)
        session.flush()
        session.add(
            Message(
                alert_id=alert.id,
                phone=PHONE,
                body="x",
                status="delivered",
                provider_sid=f"SM{title}",
            )
        )
        alerts.append(alert)
    session.commit()
    sms(client, app, "Is the water safe now?")
    row = session.scalars(select(InboundMessage)).one()
    assert (row.kind, row.alert_id) == ("reply", alerts[1].id)


def test_stop_then_a_new_alert_skips_the_number(app, client, session):
    add_resident(session, PHONE, 5.32, 60.39)
    add_resident(session, "+4790000002", 5.32, 60.39)
    session.commit()
    with app.test_request_context():
        from alerting.alerts import create_alert
        from alerting.auth import Principal

        who = Principal("c@test", "coordinator")
        first = create_alert(session, who, **FIRE)
        planning.plan(first.id)
        sms(client, app, "STOP")  # before the first alert's messages went out
        second = create_alert(session, who, **FIRE)
        assert second.recipients == 1  # the preview count already leaves it out
        planning.plan(second.id)
    session.expire_all()
    status = {(m.alert_id, m.phone): m.status for m in session.scalars(select(Message))}
    assert status[(first.id, PHONE)] == "skipped"  # pending when STOP came: not sent
    assert status[(second.id, PHONE)] == "skipped"
    assert status[(second.id, "+4790000002")] == "pending"


# -- Nordic keywords, in the resident's language ---------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "STOPP",
        "Stopp.",
        "stop!",
        "AVSLUTT",
        "avmeld",
        "Sluta",
        "AFMELD",
        "ＳＴＯＰＰ",  # full-width letters
        "S\u200btop\u200d",  # zero-width space and joiner
        "\ufeffStopp !",
        "Opt-out",
    ],
)
def test_nordic_stop_words_opt_out(app, client, session, word):
    response = sms(client, app, word)
    assert b"START" in response.data
    assert session.get(OptOut, PHONE).source == "sms"


@pytest.mark.parametrize("word", ["Starte", "start.", "ＳＴＡＲＴ"])
def test_nordic_start_words_opt_back_in(app, client, session, word):
    sms(client, app, "Stopp", sid="SM1")
    sms(client, app, word, sid="SM2")
    session.expire_all()
    assert session.get(OptOut, PHONE) is None


@pytest.mark.parametrize(
    ("language", "word", "expected"),
    [
        ("nb", "HJELP", "Svar STOPP"),
        ("sv", "hjälp", "Svara STOPP"),
        ("da", "Hjælp!", "Svar STOP"),
        ("en", "help", "Reply STOP"),
    ],
)
def test_help_is_answered_in_the_residents_language(app, client, session, language, word, expected):
    add_resident(session, PHONE, 5.32, 60.39, language=language)
    session.commit()
    assert expected in sms(client, app, word).get_data(as_text=True)
    assert session.get(OptOut, PHONE) is None


def test_stop_is_confirmed_in_the_residents_language(app, client, session):
    add_resident(session, PHONE, 5.32, 60.39, language="sv")
    session.commit()
    assert "Svara START" in sms(client, app, "Sluta").get_data(as_text=True)


def test_help_from_an_unknown_number_is_in_the_default_language(app, client, session):
    app.extensions["alerting.settings"].default_language = "da"
    assert "Svar STOP" in sms(client, app, "HJÆLP").get_data(as_text=True)


def test_simulator_opts_out_on_the_same_words_as_the_app():
    from alerting.keywords import START_WORDS, STOP_WORDS, classify
    from alerting.simulator import wire

    assert (wire.STOP_WORDS, wire.START_WORDS) == (STOP_WORDS, START_WORDS)
    samples = ["STOPP", "Stopp.", "ＳＴＯＰ", "S\u200btop", "Sluta!", "Starte", "start.", "hi"]
    for body in samples:
        app_kind = classify(body)
        sim_kind = wire.keyword_kind(body)
        assert sim_kind == (app_kind if app_kind in ("stop", "start") else None), body


def test_simulator_blocks_a_number_after_a_nordic_stop():
    import json
    import urllib.request

    from alerting.simulator import SimulatorConfig, start_in_thread

    sim = start_in_thread(SimulatorConfig())
    try:
        request = urllib.request.Request(
            f"{sim.url}/_sim/inbound",
            data=json.dumps({"from": PHONE, "to": "Alerting", "body": "Stopp."}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError):  # no inbound_url configured: 400
            urllib.request.urlopen(request, timeout=5)
        assert PHONE in sim.state.opted_out
    finally:
        sim.shutdown()


# -- a concurrent retry of the same webhook ---------------------------------------------------


def test_a_concurrent_retry_is_handled_once(app, session):
    """Two deliveries of one webhook race past each other: the unique provider id decides."""
    import threading

    from sqlalchemy import event

    engine = app.extensions["alerting.engine"]
    barrier = threading.Barrier(2, timeout=5)
    touched: set[int] = set()

    def meet(_conn, _cursor, statement, *_args):
        # each request waits for the other at its first statement on inbound_messages
        me = threading.get_ident()
        if "inbound_messages" in statement and me not in touched:
            touched.add(me)
            barrier.wait()

    results: list[object] = []

    def deliver():
        try:
            results.append(sms(app.test_client(), app, "STOP").status_code)
        except Exception as exc:  # noqa: BLE001  (the old code raised IntegrityError here)
            results.append(repr(exc))

    event.listen(engine, "before_cursor_execute", meet)
    try:
        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        event.remove(engine, "before_cursor_execute", meet)
    assert results == [200, 200]
    session.expire_all()
    assert len(session.scalars(select(InboundMessage)).all()) == 1
    assert session.scalars(select(ConsentEvent.action)).all() == ["opt_out"]  # opted out once
