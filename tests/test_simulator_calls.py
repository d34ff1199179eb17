# ruff: noqa: F811  (the fixtures of test_simulator, imported by name)
"""The simulator's Calls API, spoken to by the unmodified twilio SDK over real HTTP: calls with
TwiML or a Url, signed status callbacks in order, busy and unanswered calls, key presses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_simulator import (  # noqa: F401  (fixtures)
    Receiver,
    call,
    client,
    make_client,
    make_sim,
    receiver,
    sim,
)
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from alerting.simulator import DEFAULT_AUTH_TOKEN, ConfigError, SimulatorConfig

CALLER = "+4721000000"
LANDLINE = "+4755000001"
TWIML = (
    '<Response><Gather numDigits="1" action="{action}"><Say language="nb-NO">Vannet er stengt'
    "</Say></Gather></Response>"
)
EVENTS = ["initiated", "ringing", "answered", "completed"]


def place(client: Client, receiver: Receiver, to: str = LANDLINE, **kw: Any) -> Any:
    kw.setdefault("twiml", TWIML.format(action=receiver.url("/gather")))
    return client.calls.create(
        to=to,
        from_=CALLER,
        status_callback=receiver.url("/status"),
        status_callback_event=EVENTS,
        **kw,
    )


def statuses(receiver: Receiver, count: int) -> list[str]:
    return [p.params["CallStatus"] for p in receiver.wait_for(count, "/status")]


def test_a_call_rings_is_answered_and_completes_with_signed_callbacks_in_order(
    make_sim, make_client, receiver
):
    sim = make_sim(call_seconds=0.1, callback_delay_ms=10)
    client = make_client(sim)
    created = place(client, receiver)
    assert created.sid.startswith("CA") and created.status == "queued"
    assert statuses(receiver, 4) == ["queued", "ringing", "in-progress", "completed"]
    posts = receiver.wait_for(4, "/status")
    assert all(p.signed_by(DEFAULT_AUTH_TOKEN) for p in posts)
    assert [p.params["SequenceNumber"] for p in posts] == ["0", "1", "2", "3"]
    assert posts[-1].params["CallDuration"].isdigit()
    fetched = client.calls(created.sid).fetch()
    assert (fetched.status, fetched.to, fetched._from) == ("completed", LANDLINE, CALLER)
    heard = sim.calls_made(LANDLINE)[0]["said"]
    assert heard == [{"text": "Vannet er stengt", "language": "nb-NO", "voice": "man"}]


def test_only_the_final_callback_without_status_callback_events(make_sim, make_client, receiver):
    sim = make_sim(call_seconds=0.05)
    make_client(sim).calls.create(
        to=LANDLINE,
        from_=CALLER,
        twiml="<Response><Say>x</Say></Response>",
        status_callback=receiver.url("/status"),
    )
    assert statuses(receiver, 1) == ["completed"]
    time.sleep(0.2)
    assert len(receiver.posts) == 1


def test_busy_and_unanswered_by_number_then_by_share(make_sim, make_client, receiver):
    sim = make_sim(call_outcomes={LANDLINE: "busy;no-answer;completed"}, call_seconds=0.05)
    client = make_client(sim)
    for _ in range(3):
        place(client, receiver)
        time.sleep(0.15)
    finals = [
        p.params["CallStatus"]
        for p in receiver.posts
        if p.params["CallStatus"] in ("busy", "no-answer", "completed")
    ]
    assert finals == ["busy", "no-answer", "completed"]
    sim.configure(call_busy_share=1.0, call_outcomes={})
    place(client, receiver, to="+4755000002")
    time.sleep(0.15)
    assert sim.calls_made("+4755000002")[0]["status"] == "busy"
    with pytest.raises(ConfigError):
        SimulatorConfig(call_outcomes={LANDLINE: "engaged"})


def test_a_url_call_fetches_its_twiml_and_a_press_reaches_the_gather_action(
    make_sim, make_client, receiver
):
    sim = make_sim(call_seconds=5, callback_delay_ms=10)
    client = make_client(sim)
    receiver.reply = (200, "application/xml", TWIML.format(action="/gather").encode())
    created = place(client, receiver, twiml=None, url=receiver.url("/twiml"))
    fetched = receiver.wait_for(1, "/twiml")[0]
    assert fetched.signed_by(DEFAULT_AUTH_TOKEN) and fetched.params["CallSid"] == created.sid
    receiver.reply = (200, "application/xml", b"<Response><Say>Takk</Say><Hangup/></Response>")
    status, _h, answer = call(sim, "POST", "/_sim/press", {"sid": created.sid, "digits": "1"})
    assert status == 200 and answer["status"] == 200
    pressed = receiver.wait_for(1, "/gather")[0]  # relative to the Url, like Twilio
    assert pressed.params["Digits"] == "1" and pressed.signed_by(DEFAULT_AUTH_TOKEN)
    deadline = time.monotonic() + 3
    while client.calls(created.sid).fetch().status != "completed":  # <Hangup/> ended it
        assert time.monotonic() < deadline
        time.sleep(0.02)
    summary = sim.calls_made(LANDLINE)[0]
    assert summary["digits"] == ["1"] and summary["heard_after"] == ["Takk"]
    status, _h, answer = call(sim, "POST", "/_sim/press", {"sid": created.sid, "digits": "1"})
    assert status == 409  # the call is over


def test_refusals_carry_twilio_codes_and_calls_are_listed_by_number(client, receiver):
    with pytest.raises(TwilioRestException) as no_twiml:
        client.calls.create(to=LANDLINE, from_=CALLER)
    assert no_twiml.value.code == 21205
    with pytest.raises(TwilioRestException) as bad_to:
        client.calls.create(to="12", from_=CALLER, twiml="<Response/>")
    assert bad_to.value.code == 21211
    with pytest.raises(TwilioRestException) as bad_twiml:
        client.calls.create(to=LANDLINE, from_=CALLER, twiml="<Respo")
    assert bad_twiml.value.code == 12100
    first = place(client, receiver)
    place(client, receiver, to="+4755000002")
    second = place(client, receiver)
    listed = [c.sid for c in client.calls.stream(to=LANDLINE, page_size=1)]
    assert listed == [second.sid, first.sid]  # newest first, page by page
    with pytest.raises(TwilioRestException) as missing:
        client.calls("CA" + "0" * 32).fetch()
    assert missing.value.status == 404
