"""The second SMS provider: the real `vonage` SDK against the simulator over HTTP, failover
from Twilio to Vonage mid-send without a doubled SMS, and Vonage's signed webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from stack import (
    add_resident,
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)
from staff_helpers import make_staff, sign_in
from test_sending import add_many, post_alert, summary
from webhook_helpers import sending_message

from alerting.config import ConfigError, Settings, parse_providers
from alerting.keywords import reply_text
from alerting.models import DeliveryEvent, Message, OptOut, utcnow
from alerting.sending.provider import ProviderError, send_now
from alerting.sending.providers import DEMOTED, MIN_ATTEMPTS, Router, open_lanes
from alerting.sending.queues import redis_for
from alerting.sending.reconcile import reconcile
from alerting.sending.vonage import VonageProvider
from alerting.simulator import SimulatorConfig, start_in_thread
from alerting.simulator.vonage import sign

VONAGE_ID = "0A00000012345678"


@pytest.fixture
def sim():
    server = start_in_thread(SimulatorConfig(callback_delay_ms=5.0))
    yield server
    server.shutdown()


def off_main_thread(function, *args):
    """`function(*args)` on a thread of its own: the browser tests' session-wide Playwright leaves
    an event loop marked running on the main thread, where `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


def run(coro):
    return off_main_thread(asyncio.run, coro)


def test_vonage_sdk_sends_through_the_simulator_and_finds_its_message_again(settings, sim):
    settings = settings.replace(simulator_url=sim.url)
    since = datetime.utcnow() - timedelta(seconds=1)

    async def go():
        async with VonageProvider(settings) as vonage:
            sent = await vonage.send("+4791234567", "Vatnet er stengt på Strandvegen")
            found = await vonage.find_sent("+4791234567", "Vatnet er stengt på Strandvegen", since)
            other = await vonage.find_sent("+4791234567", "Another text", since)
            taken = await vonage.find_sent(
                "+4791234567", "Vatnet er stengt på Strandvegen", since, frozenset([sent.sid])
            )
            return sent, found, other, taken

    sent, found, other, taken = run(go())
    assert found is not None and found.sid == sent.sid
    assert other is None and taken is None
    [message] = sim.messages(to="+4791234567")
    assert message["provider"] == "vonage" and message["body"] == "Vatnet er stengt på Strandvegen"


def test_vonage_refusals_are_classified_and_a_timeout_is_never_sent_twice(settings, sim):
    settings = settings.replace(simulator_url=sim.url, sms_timeout_s=0.3)
    sim.configure(landlines=["+4755123456"])

    async def refusal(to: str, body: str = "Hei") -> ProviderError:
        async with VonageProvider(settings) as vonage:
            with pytest.raises(ProviderError) as caught:
                await vonage.send(to, body)
            return caught.value

    landline = run(refusal("+4755123456"))
    assert not landline.transient and landline.code == "vonage-3"
    sim.configure(mps=1)
    run(VonageProvider(settings).send("+4791111111", "first"))
    throttled = run(refusal("+4791111112"))
    assert throttled.transient and not throttled.unknown
    sim.configure(mps=0, latency_ms=1000)
    slow = run(refusal("+4792222222"))
    assert slow.unknown  # may have been taken: looked up, not resent
    time.sleep(1.0)
    # the SDK's own retries are off: the phone got the one request that timed out, once
    assert len(sim.messages(to="+4792222222")) == 1
    wrong = settings.replace(vonage_api_secret="not-the-secret")
    sim.configure(latency_ms=0)

    async def bad_credentials():
        async with VonageProvider(wrong) as vonage:
            with pytest.raises(ProviderError) as caught:
                await vonage.send("+4793333333", "Hei")
            return caught.value

    assert not run(bad_credentials()).transient


def test_twilio_failing_mid_send_moves_traffic_to_vonage_and_every_phone_gets_one_sms(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=60.0, sweep_interval_s=0.3, send_batch=2000)
    phones = add_many(session, 240)
    s = stack(
        workers=1,
        env={"SMS_PROVIDERS": "twilio:9,vonage:1", "VONAGE_RATE_PER_SECOND": "60"},
    )
    s.wait_workers(1)
    response = post_alert(client, api_key)
    assert response.status_code == 201
    wait_for(lambda: len(s.sim.messages()) >= 40, timeout=20, message="first 40 sent")
    s.sim.configure(twilio_status=500)
    failed_at = time.time()
    wait_for(lambda: len(s.sim.messages()) >= len(phones), timeout=60, message="all sent")

    messages = s.sim.messages()
    assert Counter(m["to"] for m in messages) == Counter(phones)  # exactly one each
    after = [m for m in messages if _ts(m) > failed_at + 0.2]
    assert after and {m["provider"] for m in after} == {"vonage"}
    first_vonage = min(_ts(m) for m in messages if m["provider"] == "vonage" and _ts(m) > failed_at)
    assert first_vonage - failed_at < 5.0
    # receipts from both providers land on the rows, each row names where it went
    alert_id = response.json["id"]
    done = wait_for(
        lambda: (r := summary(client, api_key, alert_id))["counts"].get("delivered") == 240 and r,
        timeout=30,
        message="every receipt applied",
    )
    assert nonzero(done["counts"]) == {"delivered": 240}
    session.expire_all()
    rows = session.execute(
        select(Message.phone, Message.provider, Message.provider_sid).where(
            Message.alert_id == alert_id
        )
    ).all()
    went = {m["to"]: (m["provider"], m["sid"]) for m in messages}
    assert {r.phone: (r.provider, r.provider_sid) for r in rows} == went


def nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {status: n for status, n in counts.items() if n}


def _ts(message: dict) -> float:
    return datetime.fromisoformat(message["created_at"]).timestamp()


def _signed(settings: Settings, fields: dict[str, str], secret: str | None = None) -> dict:
    fields = {"timestamp": str(int(time.time())), "nonce": str(time.time_ns()), **fields}
    fields["sig"] = sign(fields, secret or settings.vonage_signature_secret)
    return fields


def _message(session) -> Message:
    """A message Vonage took, its receipt not yet in."""
    message = sending_message(session)
    message.status, message.provider, message.provider_sid = "queued", "vonage", VONAGE_ID
    session.commit()
    return message


def _dlr(status: str = "delivered") -> dict[str, str]:
    return {
        "msisdn": "4790000001",
        "to": "Alerting",
        "messageId": VONAGE_ID,
        "status": status,
        "err-code": "0",
        "message-timestamp": "2026-12-03 08:00:00",
    }


def test_forged_stale_and_replayed_vonage_receipts_are_refused(app, session, client, settings):
    message = _message(session)
    url = f"/webhooks/vonage/dlr/{message.id}"
    forged = _signed(settings, _dlr(), secret="someone-elses-secret")
    assert client.post(url, data=forged).status_code == 403
    unsigned = _dlr()
    assert client.post(url, data=unsigned).status_code == 403
    stale = _signed(settings, {**_dlr(), "timestamp": str(int(time.time()) - 600)})
    assert client.post(url, data=stale).status_code == 403
    tampered = _signed(settings, _dlr("failed")) | {"status": "delivered"}
    assert client.post(url, data=tampered).status_code == 403

    genuine = _signed(settings, _dlr())
    assert client.post(url, data=genuine).status_code == 204
    assert client.post(url, data=genuine).status_code == 403  # the same request again
    from alerting.sending.receipts import drain

    drain(app)
    session.expire_all()
    assert session.get(Message, message.id).status == "delivered"
    assert session.scalar(select(func.count()).select_from(DeliveryEvent)) == 1


def test_stop_through_vonage_opts_out_everywhere_and_forged_or_replayed_ones_do_nothing(
    app, session, client, settings
):
    url = "/webhooks/vonage/inbound"
    stop = {"msisdn": "4790000009", "to": "Alerting", "messageId": "0B00000000000001"}
    stop |= {"text": "Stopp", "type": "text", "keyword": "STOPP"}
    assert client.post(url, data=_signed(settings, stop, secret="forged")).status_code == 403
    assert session.scalar(select(func.count()).select_from(OptOut)) == 0

    genuine = _signed(settings, stop)
    assert client.post(url, data=genuine).status_code == 204
    session.expire_all()
    assert session.scalar(select(OptOut.phone)) == "+4790000009"
    # replayed after a START: refused, so the number stays opted in
    start = _signed(settings, stop | {"messageId": "0B00000000000002", "text": "START"})
    assert client.post(url, json=start).status_code == 204
    assert client.post(url, data=genuine).status_code == 403
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(OptOut)) == 0


def test_stop_sent_to_vonage_skips_the_number_on_the_next_alert_through_twilio(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=100.0, sweep_interval_s=0.3)
    add_resident(session, "+4790000011", 5.32, 60.39)
    add_resident(session, "+4790000012", 5.32, 60.39)
    session.commit()
    s = stack(workers=1)
    s.sim.configure(vonage_inbound_url=f"{s.url}/webhooks/vonage/inbound")
    request = urllib.request.Request(
        f"{s.sim.url}/_sim/inbound",
        data=b'{"from": "+4790000011", "body": "STOP", "to": "Alerting", "provider": "vonage"}',
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert b'"status": 204' in answer.read()
    response = post_alert(client, api_key)
    alert_id = response.json["id"]
    done = wait_for(
        lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
        timeout=20,
        message="alert completed",
    )
    assert nonzero(done["counts"]) == {"delivered": 1, "skipped": 1}
    got = {m["to"]: m["body"] for m in s.sim.messages()}
    # the opted-out phone got only our answer to its STOP (Vonage relays no reply by itself)
    assert got == {
        "+4790000011": reply_text("stop", "nb", "nb"),
        "+4790000012": "Vatnet er stengt 10-14",
    }


def test_providers_setting_is_checked_with_a_clear_message():
    assert parse_providers("twilio") == (("twilio", 1.0),)
    assert parse_providers("twilio:3, vonage:1") == (("twilio", 3.0), ("vonage", 1.0))
    for bad, says in [
        ("twilio,sinch", "unknown provider 'sinch'"),
        ("twilio:x", "is not a number"),
        ("vonage:0", "must be positive"),
        (" , ", "names no provider"),
    ]:
        with pytest.raises(ConfigError, match=says):
            parse_providers(bad)


def test_published_vonage_credentials_are_refused_outside_the_simulator(monkeypatch, tmp_path):
    from alerting.simulator import DEFAULT_VONAGE_API_SECRET

    monkeypatch.setenv("SMS_PROVIDER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "real-token")
    monkeypatch.setenv("VONAGE_API_KEY", "realkey")
    monkeypatch.setenv("VONAGE_API_SECRET", DEFAULT_VONAGE_API_SECRET)
    with pytest.raises(ConfigError, match="VONAGE_API_SECRET"):
        Settings.from_env(tmp_path)


def _router(app, providers: str = "twilio:3,vonage:1") -> Router:
    settings = app.extensions["alerting.settings"]
    settings.sms_providers = parse_providers(providers)
    return Router(redis_for(settings.redis_url), settings)


def test_a_failing_provider_is_demoted_and_a_probe_that_succeeds_brings_it_back(app):
    router = _router(app)
    for _ in range(3):
        router.record("twilio", None)
    for _ in range(5):
        router.record("twilio", ProviderError("20500", "Internal Server Error", transient=True))
        router.record("twilio", ProviderError("20429", "Too Many Requests", transient=True))
    router.flush()
    assert {router.choose() for _ in range(50)} == {"vonage"}
    router.conn.delete(DEMOTED + "twilio")  # the probe period is over
    router._read_at = -1e9
    for _ in range(MIN_ATTEMPTS):
        router.record("twilio", None)
    router.flush()
    assert "twilio" in {router.choose() for _ in range(50)}


def test_staff_see_each_providers_health_and_only_coordinators_and_admins(app, client):
    router = _router(app)
    for _ in range(6):
        router.record("twilio", ProviderError("timeout", "no answer", transient=True, unknown=True))
    router.record("vonage", None)
    router.flush()
    make_staff(app, "coord@example.org", "coordinator", language="nb")
    make_staff(app, "op@example.org", "operator")
    sign_in(client, "op@example.org")
    assert client.get("/providers").status_code == 403
    client = app.test_client()
    sign_in(client, "coord@example.org")
    page = client.get("/providers")
    assert page.status_code == 200
    html = page.text
    twilio = html[html.index('data-provider="twilio"') : html.index('data-provider="vonage"')]
    vonage = html[html.index('data-provider="vonage"') :]
    assert "Nedgradert" in twilio and "100 %" in twilio  # demoted, every try failed
    assert "I bruk" in vonage.split("</tr>")[0] and "0 %" in vonage.split("</tr>")[0]
    assert "SMS-leverandører" in html


def test_an_unknown_message_is_looked_up_only_at_its_own_provider_never_sent_elsewhere(
    app, session, sim
):
    settings = app.extensions["alerting.settings"]
    settings.simulator_url = sim.url
    settings.sms_providers = parse_providers("twilio:1,vonage:100")
    message = sending_message(session)
    message.status, message.provider, message.attempts = "unknown", "twilio", 1
    message.updated_at = utcnow() - timedelta(seconds=10)
    session.commit()
    # Twilio took it; the answer was lost
    taken = off_main_thread(send_now, settings, message.phone, message.body)
    sim.configure(twilio_status=500)

    async def reconcile_once() -> None:
        async with open_lanes(redis_for(settings.redis_url), settings) as lanes:
            providers = {name: lane.provider for name, lane in lanes.items()}
            engine = app.extensions["alerting.engine"]
            await reconcile(
                engine,
                settings,
                providers,
                message.alert_id,
                message.id,
                message.id,
                0.0,
                asyncio.Semaphore(4),
            )

    run(reconcile_once())  # Twilio cannot answer: the message waits, Vonage is not asked to send
    session.expire_all()
    assert session.get(Message, message.id).status == "unknown"
    assert [m["provider"] for m in sim.messages(to=message.phone)] == ["twilio"]

    sim.configure(twilio_status=0)
    run(reconcile_once())
    session.expire_all()
    row = session.get(Message, message.id)
    assert row.provider_sid == taken.sid and row.status != "pending"
    assert len(sim.messages(to=message.phone)) == 1


def test_a_receipt_on_the_accounts_default_webhook_finds_its_message_by_vonage_id(
    app, session, client, settings
):
    message = _message(session)
    receipt = _signed(settings, _dlr("expired") | {"err-code": "3"})
    assert client.post("/webhooks/vonage/dlr", data=receipt).status_code == 204
    from alerting.sending.receipts import drain

    drain(app)
    session.expire_all()
    row = session.get(Message, message.id)
    assert (row.status, row.error_code) == ("undelivered", "vonage-3")


def test_the_simulators_sms_api_takes_json_with_credentials_in_the_body(sim):
    import json

    def post(secret: str) -> dict:
        body = {"api_key": "simkey01", "api_secret": secret, "to": "4791234568", "from": "Alerting"}
        request = urllib.request.Request(
            f"{sim.url}/sms/json",
            data=json.dumps(body | {"text": "Hei"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())["messages"][0]

    assert post("simulator-vonage-secret")["status"] == "0"
    assert post("wrong")["status"] == "4"  # Bad Credentials, in Vonage's 200 answer
    assert [m["provider"] for m in sim.messages(to="+4791234568")] == ["vonage"]


def test_a_connection_dropped_after_the_request_is_unknown_and_never_posted_again(settings):
    """The SDK re-POSTs up to 10 times when the server hangs up after reading the request (a
    doubled SMS): here the request reaches the server once and comes back as `unknown`."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    requests_seen = []

    def hang_up() -> None:
        server.settimeout(5)
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                requests_seen.append(conn.recv(65536))
                conn.close()  # read, then closed without an answer

    threading.Thread(target=hang_up, daemon=True).start()
    port = server.getsockname()[1]
    settings = settings.replace(simulator_url=f"http://127.0.0.1:{port}")

    async def go() -> ProviderError:
        async with VonageProvider(settings) as vonage:
            with pytest.raises(ProviderError) as caught:
                await vonage.send("+4791234569", "Evakuer nå")
            return caught.value

    error = run(go())
    time.sleep(0.3)
    server.close()
    assert error.unknown
    assert len([r for r in requests_seen if r.startswith(b"POST /sms/json")]) == 1
