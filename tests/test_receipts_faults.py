"""Receipts and workers under faults: an unappliable receipt goes to the dead-letter list and
blocks nothing, two drains take each receipt once, a killed drain's receipts come back, a Redis
that lost the buffer makes the sweep ask the provider at once, polling gives up after a bounded
number of tries, follow-ups are planned on the queue, and a worker stops within 10 s of SIGTERM
handing back what it has not done. Real workers, simulator, Redis and database throughout."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

from sqlalchemy import func, insert, select, update
from stack import add_resident, configure, stack_fixture, wait_for  # noqa: F401
from test_sending import RedisServer, add_many, post_alert, summary

from alerting.models import Alert, DeliveryEvent, Message, utcnow
from alerting.sending import planning, receipt_poll, receipts
from alerting.sending.queues import DEFAULT, queue, redis_for
from alerting.sending.sweep import sweep


def conn_of(app):
    return redis_for(app.extensions["alerting.settings"].redis_url)


def make_messages(app, n: int, status: str = "sending", sid: bool = False) -> list[int]:
    """An alert with n messages straight in the database (the receipts are what is tested)."""
    engine = app.extensions["alerting.engine"]
    with engine.begin() as conn:
        alert_id = conn.execute(
            insert(Alert.__table__)
            .values(
                category="water",
                severity="minor",
                title="t",
                texts={"default": "x"},
                area_geojson="{}",
                status="sending",
            )
            .returning(Alert.id)
        ).scalar_one()
        conn.execute(
            insert(Message.__table__),
            [
                {
                    "alert_id": alert_id,
                    "phone": f"+4791{i:06d}",
                    "body": "x",
                    "status": status,
                    "provider_sid": f"SM{alert_id:08d}{i:024d}" if sid else None,
                }
                for i in range(n)
            ],
        )
        return list(
            conn.scalars(
                select(Message.id).where(Message.alert_id == alert_id).order_by(Message.id)
            )
        )


def receipt_item(message_id: int, status: str = "delivered", sid: str | None = None) -> str:
    sid = sid or f"SM{message_id:032d}"
    return json.dumps([message_id, {"MessageSid": sid, "MessageStatus": status}])


def statuses(session, ids) -> Counter:
    session.expire_all()
    return Counter(session.scalars(select(Message.status).where(Message.id.in_(ids))))


def events(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(DeliveryEvent))


def test_an_unappliable_receipt_is_dead_lettered_and_the_rest_are_applied(app, session):
    a, b, c = make_messages(app, 3)
    session.execute(update(Message).where(Message.id == b).values(provider_sid="SM" + "b" * 32))
    session.commit()
    conn = conn_of(app)
    conn.rpush(
        receipts.BUFFER,
        receipt_item(a, sid="SM" + "b" * 32),  # claims b's SID for a: violates uniqueness
        "not json at all",
        receipt_item(a),
        receipt_item(c),
    )
    assert receipts.drain(app) == 2
    assert statuses(session, [a, c]) == Counter(delivered=2)
    dead = [json.loads(x) for x in conn.lrange(receipts.DEAD, 0, -1)]
    assert [d["item"] for d in dead] == [receipt_item(a, sid="SM" + "b" * 32), "not json at all"]
    assert all(d["reason"] for d in dead)
    assert conn.llen(receipts.BUFFER) == 0
    # a later drain is not held up by them
    conn.rpush(receipts.BUFFER, receipt_item(b))
    assert receipts.drain(app) == 1
    assert statuses(session, [b]) == Counter(delivered=1)


def test_two_drains_at_once_apply_every_receipt_exactly_once(app, session, stack):
    ids = make_messages(app, 3000)
    s = stack(workers=2)
    s.wait_workers(2)
    conn = conn_of(app)
    conn.rpush(receipts.BUFFER, *[receipt_item(i) for i in ids])
    engine = app.extensions["alerting.engine"]
    with engine.connect() as blocker:
        # a slow database: every message row is held, so the first drain's batch waits...
        blocker.execute(update(Message).values(body=Message.body))
        for _ in range(2):  # ...its flag expires, and a second drain starts meanwhile
            receipts.enqueue_drain(conn)
            wait_for(lambda: not queue(DEFAULT, conn).count, message="the drain taken")
            time.sleep(1.0)
        blocker.rollback()
    wait_for(
        lambda: conn.llen(receipts.BUFFER) == 0 and statuses(session, ids)["sending"] == 0,
        timeout=30,
        message="every receipt applied",
    )
    assert statuses(session, ids) == Counter(delivered=3000)
    assert events(session) == 3000  # each one taken once


def test_a_killed_drain_hands_its_receipts_to_the_next_one(app, session, stack):
    configure(app, sweep_interval_s=0.3)
    ids = make_messages(app, 1000)
    s = stack(workers=1)
    s.wait_workers()
    conn = conn_of(app)
    total = 20 * len(ids)  # a second or more for one set-based drain
    conn.rpush(receipts.BUFFER, *[receipt_item(i) for i in ids * 20])
    receipts.enqueue_drain(conn)
    wait_for(lambda: events(session) > 0, timeout=30, message="the drain under way")
    s.workers[0].kill()
    assert conn.llen(receipts.BUFFER) > 0  # killed halfway
    s.start_worker()
    wait_for(  # the killed drain's batch comes back once its lease has run out
        lambda: (
            conn.llen(receipts.BUFFER) == 0
            and not conn.zcard(receipts.DRAINS)
            and events(session) >= total
        ),
        timeout=40,
        message="every receipt applied after the kill, no batch left behind",
    )
    assert statuses(session, ids) == Counter(delivered=1000)


def stop_within(worker, seconds: float) -> float:
    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    worker.process.wait(30)
    took = time.monotonic() - started
    assert took < seconds, f"the worker took {took:.1f} s to stop"
    return took


def test_sigterm_stops_a_drain_within_10_s_and_hands_back_the_rest(app, session, stack, capsys):
    ids = make_messages(app, 2000)
    total = 25 * len(ids)  # about 25 s of work for one drain
    s = stack(workers=1)
    s.wait_workers()
    conn = conn_of(app)
    conn.rpush(receipts.BUFFER, *[receipt_item(i, "sent") for i in ids * 25])
    receipts.enqueue_drain(conn)
    wait_for(lambda: events(session) > 0, timeout=30, message="the drain under way")
    took = stop_within(s.workers[0], 10.0)
    applied = events(session)
    assert 0 < applied < total
    assert applied + conn.llen(receipts.BUFFER) == total  # nothing lost, nothing applied twice
    with capsys.disabled():
        print(f"\n[drain SIGTERM] stopped in {took:.1f} s, {applied} of {total} applied")


def test_sigterm_stops_a_send_within_10_s_and_the_rest_is_sent_by_another_worker(
    app, session, client, api_key, stack, capsys
):
    configure(app, sms_rate_per_second=20.0, send_batch=1000, sweep_interval_s=0.3)
    phones = add_many(session, 300)  # one job of 15 s at 20/s
    s = stack(workers=1)
    s.wait_workers()
    alert_id = post_alert(client, api_key).json["id"]
    wait_for(lambda: len(s.sim.messages()) >= 20, timeout=20, message="the send under way")
    took = stop_within(s.workers[0], 10.0)
    sent = len(s.sim.messages())
    assert sent < len(phones)
    s.start_worker()
    wait_for(
        lambda: summary(client, api_key, alert_id)["status"] == "completed",
        timeout=40,
        message="completed by the next worker",
    )
    assert Counter(m["to"] for m in s.sim.messages()) == Counter(phones)  # each exactly once
    with capsys.disabled():
        print(f"\n[send SIGTERM] stopped in {took:.1f} s, {sent} of {len(phones)} sent")


def test_receipts_lost_with_redis_are_polled_at_once(
    app, session, client, api_key, stack, tmp_path
):
    server = RedisServer(tmp_path)
    try:
        configure(  # RECEIPT_TIMEOUT stays 600 s; no drain thread: the flag below holds
            app,
            redis_url=server.url,
            sms_rate_per_second=200.0,
            sweep_interval_s=0.3,
            receipt_drain_interval_s=0,
        )
        phones = add_many(session, 20)
        s = stack(workers=1)
        s.wait_workers()
        conn = conn_of(app)
        conn.set(receipts.DRAINING, "1", ex=600)  # no drain runs: receipts stay in the buffer
        # the first sweep on this fresh Redis finds no marker and polls what waits: let it pass
        wait_for(lambda: conn.exists(receipt_poll.MARKER), timeout=10, message="the marker set")
        alert_id = post_alert(client, api_key).json["id"]
        wait_for(
            lambda: s.sim.stats()["callbacks_sent"] >= 2 * len(phones),
            timeout=20,
            message="every receipt buffered",
        )
        assert summary(client, api_key, alert_id)["counts"]["delivered"] == 0
        server.kill()  # the buffered receipts are gone
        server.start()
        done = wait_for(
            lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
            timeout=30,
            message="completed by asking the provider",
        )
        assert done["counts"]["delivered"] == len(phones)
        s.close()
    finally:
        server.kill()


def test_polling_gives_up_on_a_silent_carrier_and_the_alert_completes(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.2, receipt_timeout_s=0.5)
    phones = add_many(session, 3)
    # a carrier without delivery reports, one that never even says `sent`, one that delivers
    stack(workers=1, outcomes={phones[0]: "sent", phones[1]: "queued"})
    alert_id = post_alert(client, api_key).json["id"]
    done = wait_for(
        lambda: (r := summary(client, api_key, alert_id))["status"] == "completed" and r,
        timeout=30,
        message="completed without reports",
    )
    assert done["counts"]["sent"] == 2 and done["counts"]["delivered"] == 1
    time.sleep(3)  # several more sweeps
    session.expire_all()
    polls = dict(
        session.execute(
            select(Message.phone, Message.receipt_polls).where(Message.alert_id == alert_id)
        ).all()
    )
    time.sleep(1)
    session.expire_all()
    again = dict(
        session.execute(
            select(Message.phone, Message.receipt_polls).where(Message.alert_id == alert_id)
        ).all()
    )
    assert again == polls  # no more asking
    assert 1 <= polls[phones[0]] <= receipt_poll.MAX_RECEIPT_POLLS
    assert 1 <= polls[phones[1]] <= receipt_poll.MAX_RECEIPT_POLLS
    noted = session.scalars(
        select(DeliveryEvent.payload)
        .join(Message, Message.id == DeliveryEvent.message_id)
        .where(Message.phone == phones[1], Message.alert_id == alert_id)
    ).all()
    assert any(p.get("Source") == "poll" and p.get("MessageStatus") == "sent" for p in noted)


def test_a_follow_up_whose_plan_dies_halfway_is_finished_by_the_sweep(
    app, session, client, api_key, stack
):
    configure(app, sms_rate_per_second=200.0, send_batch=100, sweep_interval_s=0.3)
    phones = add_many(session, 250)
    s = stack(workers=1)
    parent = post_alert(client, api_key).json["id"]
    wait_for(
        lambda: summary(client, api_key, parent)["status"] == "completed",
        timeout=30,
        message="parent completed",
    )
    settings = app.extensions["alerting.settings"]
    redis_url = settings.redis_url
    settings.redis_url = "unix:///nonexistent/redis.sock"  # the web app loses Redis
    try:
        response = client.post(
            f"/api/v1/alerts/{parent}/follow-up",
            headers={"Authorization": f"Bearer {api_key}"},
            json={"title": "All clear", "message": {"default": "Water is back"}},
        )
        assert response.status_code == 201
        child = response.json["id"]
        assert response.json["status"] == "scheduled"
        assert response.json["recipients"] == len(phones)
        with app.app_context():  # a plan that gets one chunk in, then loses Redis
            try:
                planning.plan(child)
            except Exception as exc:  # noqa: BLE001  (the outage, whatever the client raises)
                assert "redis" in type(exc).__module__
        session.expire_all()
        assert 0 < session.scalar(select(func.count()).where(Message.alert_id == child)) < 250
    finally:
        settings.redis_url = redis_url
    wait_for(
        lambda: summary(client, api_key, child)["status"] == "completed",
        timeout=40,
        message="the follow-up completed",
    )
    assert Counter(m["to"] for m in s.sim.messages()) == Counter({p: 2 for p in phones})


def test_sweep_plans_a_follow_up_that_has_no_plan_job(app, session):
    ids = make_messages(app, 2, status="delivered")
    parent = session.get(Message, ids[0]).alert_id
    session.add(
        Alert(
            category="water",
            severity="minor",
            title="All clear",
            texts={"default": "x"},
            area_geojson="{}",
            parent_id=parent,
            status="scheduled",
            created_at=utcnow().replace(year=2020),
        )
    )
    session.commit()
    assert sweep(app)["planned"] == 1


def test_unstorable_receipts_already_in_the_buffer_never_block_the_drain(app, session):
    """Receipts an older version accepted at the webhook: ids beyond the routes' range are
    dead letters on every database, and PostgreSQL cannot store the NUL or the long code
    either; each is dead-lettered and the good one still applied."""
    a, c = make_messages(app, 2)
    conn = conn_of(app)
    bad = [
        json.dumps([10**20, {"MessageSid": "SM1", "MessageStatus": "sent"}]),
        json.dumps([2**31, {"MessageSid": "SM2", "MessageStatus": "sent"}]),
        json.dumps([a, {"MessageSid": "SM\x003", "MessageStatus": "sent"}]),
        json.dumps([a, {"MessageSid": "SM4", "MessageStatus": "failed", "ErrorCode": "3" * 25}]),
    ]
    conn.rpush(receipts.BUFFER, *bad, receipt_item(c))
    receipts.drain(app)
    assert statuses(session, [c]) == Counter(delivered=1)
    dead = [json.loads(x)["item"] for x in conn.lrange(receipts.DEAD, 0, -1)]
    postgres = app.extensions["alerting.engine"].dialect.name == "postgresql"
    assert dead == (bad if postgres else bad[:2])
    assert conn.llen(receipts.BUFFER) == 0
