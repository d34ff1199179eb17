"""Live delivery progress: the alert page's counts follow the receipts during a send (every
worker drains the receipt buffer beside its send job), and messages held by quiet hours say until
when. Real workers, simulator, Redis and database."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from stack import configure, stack_fixture, wait_for  # noqa: F401
from staff_helpers import make_staff, sign_in
from test_sending import add_many, post_alert

from alerting.models import Resident

RECIPIENTS = 2000
RATE = 150.0  # about 13 s for 2,000 phones


def test_delivered_count_follows_the_simulator_within_2_s_during_a_send(
    app, session, client, api_key, stack, capsys
):
    configure(app, sms_rate_per_second=RATE, sweep_interval_s=1.0)
    add_many(session, RECIPIENTS)
    make_staff(app, "viewer@example.org", "viewer")
    s = stack(workers=1)
    s.wait_workers()
    sign_in(client, "viewer@example.org")
    alert_id = post_alert(client, api_key).json["id"]

    samples = []  # (seconds, delivered at the simulator, delivered on the alert page)
    started = time.monotonic()
    while time.monotonic() - started < 90:
        simulated = s.sim.stats()["by_status"].get("delivered", 0)
        shown = client.get(f"/alerts/{alert_id}/progress.json").json
        samples.append((time.monotonic() - started, simulated, shown["counts"]["delivered"]))
        if shown["counts"]["delivered"] >= RECIPIENTS:
            break
        time.sleep(0.2)
    assert samples[-1][2] == RECIPIENTS, "not every message was delivered"
    assert shown["eta_s"] == 0 and shown["rate_limit"] == RATE

    # from the first delivery to the last, the shown count never stood still for 2 s
    sending = [(t, d) for t, _sim, d in samples if 0 < d < RECIPIENTS] + [samples[-1][::2]]
    changes = [t for (t, d), (_t0, d0) in zip(sending[1:], sending[:-1], strict=True) if d != d0]
    gaps = [b - a for a, b in zip([sending[0][0], *changes], changes, strict=False)]
    longest = max(gaps)
    assert longest < 2.0, f"the delivered count stood still for {longest:.1f} s"
    # and what the simulator had delivered is on the page at most 2 s later
    for t, simulated, _shown in samples:
        later = [d for t2, _s2, d in samples if t2 >= t + 2.0]
        if later:
            assert later[0] >= simulated, f"at {t:.1f} s the simulator had {simulated} delivered"
    with capsys.disabled():
        took = samples[-1][0]
        print(
            f"\n[progress] {RECIPIENTS} phones in {took:.1f} s at {RATE:.0f}/s: the delivered "
            f"count moved {len(changes)} times in {len(samples)} polls, longest pause "
            f"{longest:.2f} s, mean {took / max(len(changes), 1):.2f} s between moves"
        )


def quiet_now(session, phone: str, zone: str = "Europe/Oslo") -> str:
    """Give this resident quiet hours from an hour ago to two hours on (local time in TIMEZONE);
    the end as the page writes it."""
    now = datetime.now(ZoneInfo(zone)).replace(second=0, microsecond=0)
    resident = session.scalars(select(Resident).where(Resident.phone == phone)).one()
    resident.quiet_start = (now - timedelta(hours=1)).time()
    resident.quiet_end = (now + timedelta(hours=2)).time()
    session.commit()
    return resident.quiet_end.strftime("%H:%M")


def test_messages_held_by_quiet_hours_show_until_when(app, session, client, api_key, stack):
    """A message waiting for a resident's quiet hours to end: the page says until when, in
    TIMEZONE, and how many wait."""
    configure(app, sms_rate_per_second=200.0, sweep_interval_s=0.3)
    phones = add_many(session, 3)
    until = quiet_now(session, phones[0])
    make_staff(app, "viewer@example.org", "viewer")
    s = stack(workers=1)
    sign_in(client, "viewer@example.org")
    alert_id = post_alert(client, api_key).json["id"]
    shown = wait_for(
        lambda: (
            (p := client.get(f"/alerts/{alert_id}/progress.json").json)["counts"]["delivered"] == 2
            and p
        ),
        timeout=30,
        message="the two others delivered",
    )
    assert shown["held"] == [{"until": until, "count": 1}]
    assert shown["eta_s"] == 0  # what is held does not count as left to send
    page = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert f"held until {until} (1)" in page
    assert s.sim.messages(to=phones[0]) == []
