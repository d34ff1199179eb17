"""Sender pools: several Twilio senders, each under its own rate limit, a phone always on the
same one; the real twilio SDK against the simulator over HTTP and real worker processes."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from stack import (
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)
from test_sending import add_many, message_states, post_alert, summary
from test_vonage import run

from alerting.config import ConfigError, Settings, parse_senders, parse_service_senders
from alerting.models import Message, OptOut
from alerting.sending.provider import Provider
from alerting.sending.ratelimit import max_in_window
from alerting.sending.senders import Sender, sender_for, twilio_senders
from alerting.simulator import SimulatorConfig, start_in_thread

POOL = {"+4790000001": 10.0, "+4790000002": 10.0, "+4790000003": 10.0}
SERVICE = "MG" + "a" * 32
POOL_ENV = {"TWILIO_SENDERS": ",".join(f"{n}:{r:g}" for n, r in POOL.items())}


def at(message: dict) -> float:
    return datetime.fromisoformat(message["created_at"].replace("Z", "+00:00")).timestamp()


def test_twilio_senders_parses_ids_with_optional_rates():
    assert parse_senders("+4790000001:50, +4790000002 ,Alerting:10") == (
        ("+4790000001", 50.0),
        ("+4790000002", None),
        ("Alerting", 10.0),
    )
    assert parse_service_senders("5:50") == (5, 50.0)
    assert parse_service_senders("5") == (5, None)


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"TWILIO_SENDERS": "+4790000001:fast"}, "the rate 'fast' of +4790000001 is not a number"),
        ({"TWILIO_SENDERS": "+4790000001:0"}, "must be positive"),
        ({"TWILIO_SENDERS": "4790000001"}, "neither a phone number in E.164"),
        ({"TWILIO_SENDERS": "Municipality of Bergen"}, "up to 11 letters"),
        ({"TWILIO_SENDERS": "+4790000001,+4790000001:5"}, "names +4790000001 twice"),
        (
            {"TWILIO_SENDERS": "+4790000001", "TWILIO_MESSAGING_SERVICE_SID": SERVICE},
            "not both",
        ),
        ({"TWILIO_MESSAGING_SERVICE_SENDERS": "5"}, "without TWILIO_MESSAGING_SERVICE_SID"),
        (
            {
                "TWILIO_MESSAGING_SERVICE_SID": SERVICE,
                "TWILIO_MESSAGING_SERVICE_SENDERS": "x",
            },
            "not a number of senders",
        ),
    ],
)
def test_bad_sender_settings_are_refused_with_what_to_set(monkeypatch, tmp_path, variables, says):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=says.replace("+", r"\+")):
        Settings.from_env(tmp_path)


def test_the_senders_rates_never_add_up_to_more_than_sms_rate_per_second(settings):
    one = settings.replace(sms_rate_per_second=30.0, twilio_from="Alerting")
    assert twilio_senders(one) == (Sender("Alerting", 30.0),)  # as before pools
    pool = one.replace(sms_rate_per_second=250.0, twilio_senders=(("+4790000001", 50.0),) * 5)
    assert [s.rate for s in twilio_senders(pool)] == [50.0] * 5
    capped = pool.replace(sms_rate_per_second=100.0)
    assert [s.rate for s in twilio_senders(capped)] == [20.0] * 5  # scaled down alike
    shares = one.replace(twilio_senders=(("+4790000001", None), ("+4790000002", None)))
    assert [s.rate for s in twilio_senders(shares)] == [15.0, 15.0]
    service = one.replace(
        sms_rate_per_second=1000.0,
        twilio_messaging_service_sid=SERVICE,
        twilio_messaging_service_senders=(5, 50.0),
    )
    assert twilio_senders(service) == (Sender(SERVICE, 250.0, service=True),)


def test_a_phone_keeps_its_sender_and_a_new_sender_takes_phones_only_for_itself():
    phones = [f"+4791{i:06d}" for i in range(6000)]
    three = tuple(Sender(f"+479000000{i}", 10.0) for i in range(1, 4))
    before = {p: sender_for(three, p).id for p in phones}
    assert before == {p: sender_for(three, p).id for p in phones}  # stable
    assert all(abs(n - 2000) < 200 for n in Counter(before.values()).values())
    four = (*three, Sender("+4790000004", 10.0))
    after = {p: sender_for(four, p).id for p in phones}
    moved = [p for p in phones if after[p] != before[p]]
    assert {after[p] for p in moved} == {"+4790000004"}  # nobody moves between the old ones
    assert 1200 < len(moved) < 1800  # about a quarter
    weighted = (Sender("+4790000001", 40.0), Sender("Alerting", 10.0))
    share = Counter(sender_for(weighted, p).id for p in phones)
    assert 0.75 < share["+4790000001"] / len(phones) < 0.85  # in proportion to the rates


@pytest.fixture
def sim():
    server = start_in_thread(SimulatorConfig(callback_delay_ms=5.0))
    yield server
    server.shutdown()


def test_a_message_from_a_pool_is_found_after_the_pool_changed(settings, sim):
    """A sender added between a timed-out send and its lookup moves some phones to it: the
    lookup must still find what the old sender sent, or the phone gets the alert twice."""
    pool = settings.replace(simulator_url=sim.url, twilio_senders=tuple((n, None) for n in POOL))
    phones = [f"+4792{i:06d}" for i in range(40)]
    grown = pool.replace(twilio_senders=(*pool.twilio_senders, ("+4790000009", None)))
    moved = [p for p in phones if sender_for(twilio_senders(grown), p).id == "+4790000009"]
    assert moved
    since = datetime.utcnow() - timedelta(seconds=1)

    async def go():
        async with Provider(pool) as provider:
            sent = [await provider.send(p, "Evacuate now") for p in moved]
        async with Provider(grown) as provider:
            found = [await provider.find_sent(p, "Evacuate now", since) for p in moved]
        return sent, found

    sent, found = run(go())
    assert [f.sid for f in found if f] == [s.sid for s in sent]
    assert {m["from"] for m in sim.messages()} <= set(POOL)


def test_a_messaging_service_sends_with_its_sid_and_twilio_picks_the_number(settings, sim):
    service = settings.replace(
        simulator_url=sim.url,
        twilio_messaging_service_sid="MG" + "b" * 32,
        twilio_messaging_service_senders=(3, 10.0),
    )

    async def go():
        async with Provider(service) as provider:
            await provider.send("+4791234567", "Hei")

    run(go())
    [message] = sim.messages()
    assert message["messaging_service_sid"] == "MG" + "b" * 32


def by_sender(messages: list[dict]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    for m in messages:
        times[m["from"]].append(at(m))
    return times


def test_an_alert_spreads_over_every_sender_none_over_its_rate_and_follow_ups_keep_them(
    app, session, client, api_key, stack
):
    configure(
        app,
        sms_rate_per_second=30.0,
        twilio_senders=tuple(POOL.items()),
        send_batch=100,
        sweep_interval_s=0.5,
    )
    phones = add_many(session, 150)  # 5 s at 3 × 10/s
    # no receipts: this process serves them, and their work would delay the simulator's
    # arrival times (same process) by more than the slots' 2% margin on a loaded machine
    s = stack(workers=2, env=POOL_ENV, drop_rate=1.0)
    s.wait_workers(2)
    first = post_alert(client, api_key).json["id"]
    wait_for(lambda: len(s.sim.messages()) >= len(phones), timeout=60, message="all sent")
    sent = s.sim.messages()
    assert Counter(m["to"] for m in sent) == Counter(phones)  # one each
    times = by_sender(sent)
    assert set(times) == set(POOL)  # every sender took part
    for sender, arrivals in times.items():
        assert max_in_window(arrivals) <= POOL[sender], sender  # the simulator's own clock
    assert max_in_window([at(m) for m in sent]) <= 30
    sender_of = {m["to"]: m["from"] for m in sent}
    pool = twilio_senders(app.extensions["alerting.settings"])
    assert sender_of == {p: sender_for(pool, p).id for p in phones}  # derived, never stored

    response = client.post(
        f"/api/v1/alerts/{first}/follow-up",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"title": "All clear", "message": {"default": "All clear"}},
    )
    assert response.status_code == 201, response.json
    wait_for(lambda: len(s.sim.messages()) >= 2 * len(phones), timeout=60, message="all clear")
    clear = [m for m in s.sim.messages() if m["body"] == "All clear"]
    assert {m["to"]: m["from"] for m in clear} == sender_of  # the same sender for each phone


def test_stop_to_any_number_of_the_pool_opts_out_everywhere(app, session, client, api_key, stack):
    configure(app, sms_rate_per_second=30.0, twilio_senders=tuple(POOL.items()))
    [phone] = add_many(session, 1)
    s = stack(workers=1, env=POOL_ENV)
    data = json.dumps({"from": phone, "body": "STOP", "to": "+4790000003"}).encode()
    request = urllib.request.Request(
        f"{s.sim.url}/_sim/inbound", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["status"] == 200
    assert session.get(OptOut, phone).source == "sms"
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(lambda: summary(client, api_key, alert_id)["status"] == "completed", timeout=30)
    assert summary(client, api_key, alert_id)["counts"]["skipped"] == 1
    assert s.sim.messages(to=phone) == []  # no sender of the pool sent it anything


def test_timed_out_sends_from_a_pool_are_looked_up_not_sent_again(
    app, session, client, api_key, stack
):
    configure(
        app,
        sms_rate_per_second=60.0,
        twilio_senders=tuple(POOL.items()),
        sms_timeout_s=1.0,
        sweep_interval_s=0.3,
    )
    phones = add_many(session, 30)
    s = stack(workers=1, env=POOL_ENV, latency_ms=1500)  # every answer after our timeout
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(lambda: summary(client, api_key, alert_id)["status"] == "completed", timeout=60)
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)  # one each
    assert len({m["from"] for m in s.sim.messages()}) == 3
    assert message_states(session, alert_id) == Counter({"delivered": 30})
    session.expire_all()
    sids = {m.provider_sid for m in session.scalars(select(Message))}
    assert sids == {m["sid"] for m in s.sim.messages()}  # each row adopted its own
