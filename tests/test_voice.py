"""Calls to landlines end to end: API → plan → worker → the twilio SDK's `calls.create` →
simulator (Calls API over HTTP) → signed call status callbacks and key presses → the alert."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, update
from stack import add_resident, configure, stack_fixture, wait_for  # noqa: F401
from staff_helpers import make_staff, sign_in
from test_sending import AREA, INSIDE, OUTSIDE, post_alert, summary

from alerting.alerts import create_alert
from alerting.auth import Principal
from alerting.models import Alert, DeliveryEvent, Message

VOICE = {
    "voice_retry_minutes": 0.01,  # 0.6 s between tries
    "voice_max_concurrent": 2,
    "voice_rate_per_second": 20.0,
    "sweep_interval_s": 0.3,
}


def calls_by_phone(sim) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for call in sim.calls_made():
        out.setdefault(call["to"], []).append(call["status"])
    return out


def voice_rows(session, alert_id) -> dict[str, Message]:
    session.expire_all()
    rows = session.scalars(
        select(Message).where(Message.alert_id == alert_id, Message.channel == "voice")
    )
    return {m.phone: m for m in rows}


def completed(client, api_key, alert_id, timeout=40):
    return wait_for(
        lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
        timeout=timeout,
        message="alert completed",
    )


def test_each_landline_gets_one_completed_call_retried_after_busy_under_the_cap(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=100.0, **VOICE)
    landlines = [f"+475500000{i}" for i in range(1, 7)]
    for phone in landlines:
        add_resident(session, phone, *INSIDE, reachable=False)
    add_resident(session, "+4755000009", *OUTSIDE, reachable=False)
    add_resident(session, "+4790000001", *INSIDE)  # a mobile: an SMS, no call
    session.commit()
    s = stack(
        workers=1,
        call_seconds=0.4,
        call_outcomes={
            "+4755000001": "busy;busy;completed",
            "+4755000002": "no-answer;completed",
            "+4755000003": "busy",  # busy every time: given up after 3 tries
        },
    )
    response = post_alert(client, api_key)
    assert response.status_code == 201, response.json
    assert response.json["recipients"] == 7  # 1 SMS + 6 calls
    done = completed(client, api_key, response.json["id"])

    calls = calls_by_phone(s.sim)
    assert calls == {
        "+4755000001": ["busy", "busy", "completed"],
        "+4755000002": ["no-answer", "completed"],
        "+4755000003": ["busy", "busy", "busy"],
        "+4755000004": ["completed"],
        "+4755000005": ["completed"],
        "+4755000006": ["completed"],
    }
    assert s.sim.call_stats()["max_in_progress"] <= 2  # VOICE_MAX_CONCURRENT
    assert [m["to"] for m in s.sim.messages()] == ["+4790000001"]  # landlines get no SMS
    rows = voice_rows(session, response.json["id"])
    assert {p: (m.status, m.error_code, m.attempts) for p, m in rows.items()} == {
        "+4755000001": ("delivered", None, 3),
        "+4755000002": ("delivered", None, 2),
        "+4755000003": ("undelivered", "busy", 3),
        "+4755000004": ("delivered", None, 1),
        "+4755000005": ("delivered", None, 1),
        "+4755000006": ("delivered", None, 1),
    }
    assert done["channels"]["voice"]["delivered"] == 5
    assert done["channels"]["voice"]["undelivered"] == 1
    assert done["channels"]["sms"]["delivered"] == 1


def press(sim, sid: str, digits: str = "1") -> dict:
    request = urllib.request.Request(
        f"{sim.url}/_sim/press",
        data=json.dumps({"sid": sid, "digits": digits}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_pressing_1_is_recorded_as_an_acknowledgement_on_the_alert(
    app, session, client, api_key, stack
):
    configure(app, **VOICE)
    add_resident(session, "+4755000001", *INSIDE, reachable=False)
    add_resident(session, "+4755000002", *INSIDE, reachable=False)
    session.commit()
    s = stack(workers=1, call_seconds=30)
    alert_id = post_alert(client, api_key).json["id"]
    answered = wait_for(
        lambda: (
            len(up := [c for c in s.sim.calls_made() if c["status"] == "in-progress"]) == 2 and up
        ),
        timeout=20,
        message="both calls answered",
    )
    first = next(c for c in answered if c["to"] == "+4755000001")
    answer = press(s.sim, first["sid"], "1")
    assert answer["status"] == 200 and "<Hangup/>" in answer["body"]
    assert "Takk." in answer["body"]  # in the language of the text it heard
    other = next(c for c in s.sim.calls_made() if c["to"] == "+4755000002")
    assert press(s.sim, other["sid"], "7")["status"] == 200  # another key: no confirmation

    rows = voice_rows(session, alert_id)
    assert rows["+4755000001"].acknowledged_at is not None
    assert rows["+4755000002"].acknowledged_at is None
    # each press ended its call (the answer hangs up): both were answered and completed
    wait_for(lambda: rows_status(session, alert_id, "+4755000001") == "delivered")
    wait_for(lambda: rows_status(session, alert_id, "+4755000002") == "delivered")
    assert summary(client, api_key, alert_id)["acknowledged"] == 1

    make_staff(app, "viewer@test", "viewer")  # the alert page: SMS and calls side by side
    staff = app.test_client()
    sign_in(staff, "viewer@test")
    page = staff.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="channels"' in page and 'data-channel="voice"' in page
    assert "+47•••••001" in page  # who confirmed, masked for a viewer
    progress = staff.get(f"/alerts/{alert_id}/progress.json").json
    assert progress["channels"]["voice"]["delivered"] == 2
    assert progress["channels"]["sms"] == dict.fromkeys(progress["counts"], 0)
    assert [a["phone"] for a in progress["acknowledgements"]] == ["+47•••••001"]


def rows_status(session, alert_id, phone):
    row = voice_rows(session, alert_id).get(phone)
    return row.status if row else None


def test_say_speaks_each_recipients_language_with_its_voice_twice(
    app, session, client, api_key, stack
):
    configure(app, **VOICE)
    for phone, language in (
        ("+4755000001", "nb"),
        ("+4755000002", "sv"),
        ("+4755000003", "en"),
        ("+4755000004", "uk"),  # no Ukrainian voice: the default text in nb's voice
    ):
        add_resident(session, phone, *INSIDE, language=language, reachable=False)
    session.commit()
    s = stack(workers=1, call_seconds=0.2)
    texts = {
        "default": "Vatnet er stengt",
        "sv": "Vattnet är avstängt",
        "en": "Water off",
        "uk": "Вода",
    }
    alert_id = post_alert(client, api_key, message=texts).json["id"]
    completed(client, api_key, alert_id)

    heard = {c["to"]: c["said"] for c in s.sim.calls_made()}
    expected = {
        "+4755000001": ("nb-NO", "Vatnet er stengt"),
        "+4755000002": ("sv-SE", "Vattnet är avstängt"),
        "+4755000003": ("en-GB", "Water off"),
        "+4755000004": ("nb-NO", "Vatnet er stengt"),
    }
    for phone, (language, text) in expected.items():
        said = heard[phone]
        assert {s["language"] for s in said} == {language}, phone
        assert [s["text"] for s in said[:2]] == [text, text]  # said twice
        assert "1" in said[2]["text"]  # then: press 1 to confirm
    assert heard["+4755000003"][2]["text"] == "Press 1 to confirm you heard this message."


def test_spoken_text_is_said_and_mobiles_still_undelivered_are_called_once(
    app, session, client, api_key, stack
):
    """Calls say the alert's spoken text; with call_undelivered_after the alert waits for the
    minutes to pass, then calls the mobile whose SMS stayed undelivered, never a delivered one."""
    configure(app, **VOICE)
    add_resident(session, "+4755000001", *INSIDE, reachable=False)
    add_resident(session, "+4790000001", *INSIDE)  # delivered
    add_resident(session, "+4790000002", *INSIDE)  # undelivered: called
    session.commit()
    s = stack(workers=1, call_seconds=0.2, outcomes={"+4790000002": "undelivered:30003"})
    with app.test_request_context():
        alert = create_alert(
            session,
            Principal("coord@test", "coordinator"),
            area=AREA,
            category="water",
            severity="minor",
            title="Water off",
            texts={"default": "Vann av"},
            spoken_texts={"default": "Vannet er stengt i hele dag"},
            call_undelivered_after=5,
        )
    alert_id = alert.id
    wait_for(lambda: rows_status(session, alert_id, "+4755000001") == "delivered", timeout=20)
    wait_for(lambda: sms_status(session, alert_id, "+4790000002") == "undelivered")
    time.sleep(1.0)  # sweeps pass: within the 5 minutes nobody else is called, nor completed
    assert set(voice_rows(session, alert_id)) == {"+4755000001"}
    assert summary(client, api_key, alert_id)["status"] != "completed"
    session.expire_all()
    started = session.get(Alert, alert_id).started_at
    session.execute(  # the 5 minutes are up
        update(Alert).where(Alert.id == alert_id).values(started_at=started - timedelta(minutes=6))
    )
    session.commit()
    completed(client, api_key, alert_id)

    calls = Counter(c["to"] for c in s.sim.calls_made())
    assert calls == Counter(["+4755000001", "+4790000002"])
    said = {c["to"]: c["said"][0]["text"] for c in s.sim.calls_made()}
    assert said == {p: "Vannet er stengt i hele dag" for p in calls}
    assert rows_status(session, alert_id, "+4790000002") == "delivered"


def sms_status(session, alert_id, phone):
    session.expire_all()
    return session.scalar(
        select(Message.status).where(
            Message.alert_id == alert_id, Message.phone == phone, Message.channel == "sms"
        )
    )


def test_a_call_whose_create_timed_out_is_looked_up_and_never_placed_twice(
    app, session, client, api_key, stack
):
    """The simulator places the call but answers after the timeout: the row is `unknown`, the
    dispatcher finds the call at the provider and adopts it instead of calling again."""
    configure(app, sms_timeout_s=0.5, **VOICE)
    add_resident(session, "+4755000001", *INSIDE, reachable=False)
    session.commit()
    # its first callback comes after the lookup (which waits 2 s, then takes 1 s)
    s = stack(workers=1, call_seconds=0.2, latency_ms=1000, callback_delay_ms=6000)
    alert_id = post_alert(client, api_key).json["id"]
    done = completed(client, api_key, alert_id, timeout=60)
    assert [c["to"] for c in s.sim.calls_made()] == ["+4755000001"]
    row = voice_rows(session, alert_id)["+4755000001"]
    assert (row.status, row.attempts) == ("delivered", 1)
    assert row.provider_sid == s.sim.calls_made()[0]["sid"]
    assert done["channels"]["voice"]["delivered"] == 1
    looked_up = session.scalars(select(DeliveryEvent.payload)).all()
    assert any(p.get("Source") == "lookup" for p in looked_up)  # found at the provider


def test_a_follow_up_calls_the_landlines_and_texts_the_mobiles_of_its_parent(
    app, session, client, api_key, stack
):
    configure(app, **VOICE)
    add_resident(session, "+4755000001", *INSIDE, reachable=False)
    add_resident(session, "+4790000001", *INSIDE)
    session.commit()
    s = stack(workers=1, call_seconds=0.2)
    parent = post_alert(client, api_key).json["id"]
    completed(client, api_key, parent)
    response = client.post(
        f"/api/v1/alerts/{parent}/follow-up",
        json={"title": "All clear", "message": {"default": "Vannet er tilbake"}},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 201, response.json
    child = response.json["id"]
    done = completed(client, api_key, child)
    assert done["recipients"] == 2
    assert (done["channels"]["sms"]["delivered"], done["channels"]["voice"]["delivered"]) == (1, 1)
    calls = [c for c in s.sim.calls_made() if c["said"][0]["text"] == "Vannet er tilbake"]
    assert [c["to"] for c in calls] == ["+4755000001"]
    texts = [m["to"] for m in s.sim.messages() if m["body"] == "Vannet er tilbake"]
    assert texts == ["+4790000001"]


def test_cancelling_an_alert_hangs_up_its_calls_in_progress(app, session, client, api_key, stack):
    """A withdrawn warning must not go on being read to someone: the answered call is hung up
    (Calls API update to `completed`) instead of running its full length, and not called again."""
    configure(app, **VOICE)
    add_resident(session, "+4755000001", *INSIDE, reachable=False)
    session.commit()
    s = stack(workers=1, call_seconds=60)
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: [c for c in s.sim.calls_made() if c["status"] == "in-progress"],
        timeout=20,
        message="the call answered",
    )
    started = time.monotonic()
    cancel = client.post(
        f"/api/v1/alerts/{alert_id}/cancel", headers={"Authorization": f"Bearer {api_key}"}
    )
    assert cancel.status_code == 200
    wait_for(
        lambda: [c["status"] for c in s.sim.calls_made()] == ["completed"],
        timeout=20,
        message="the call hung up",
    )
    assert time.monotonic() - started < 30  # hung up, not played out (60 s)
    time.sleep(1.5)  # a retry would have been placed by now (0.6 s apart)
    assert calls_by_phone(s.sim) == {"+4755000001": ["completed"]}
