"""A drill: how long would reaching everyone in an area take? Measured, not estimated.

It targets the real register (everyone planning would send to: reachable, not opted out, not
declined), builds each body as planning does, prefixed like an exercise, and sends every one
through the real provider client (the twilio SDK) under the real Redis rate limiter at
SMS_RATE_PER_SECOND, to a simulator started in this process. SMS_PROVIDER is ignored: the drill
can only ever reach that in-process simulator, so no real SMS leaves. Nothing is written to the
alerts or messages tables, and no job is queued (a production worker could pick it up); the run
is audited. The limiter key is the drill's own, so a drill never slows a real send down (and is
not slowed by one either: the figure is for an otherwise idle sender).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting import current
from alerting.audit import record
from alerting.config import Settings
from alerting.exercises import prefix
from alerting.models import Alert, OptOut
from alerting.sending import planning
from alerting.sending.provider import Provider, ProviderError, base_url, sender_of
from alerting.sending.queues import redis_for
from alerting.sending.ratelimit import RateLimiter
from alerting.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    SimulatorConfig,
    start_in_thread,
)

GRANT = 50  # slots asked for at a time, as a send job does


@dataclass
class DrillReport:
    recipients: int  # phones that would get the SMS now
    held: int  # phones in quiet hours (a non-urgent category): not sent in the drill
    opted_out: int
    accepted: int  # the simulator accepted
    refused: int
    seconds: float  # from the first request to the last accepted SMS
    rate: float  # SMS_RATE_PER_SECOND (or --rate)

    @property
    def achieved(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return asdict(self) | {"achieved_per_second": round(self.achieved, 2)}


def drill_rows(session: Session, area: BaseGeometry, category: str, text: str) -> list[dict]:
    """The message rows planning would write for an alert of `category` to `area`."""
    ids = [int(i) for i in current.register().target(area).resident_ids]
    inside = set(ids)
    groups: dict[str, list[planning.Person]] = {}
    for i in range(0, len(ids), planning.LOAD_CHUNK):
        part = ids[i : i + planning.LOAD_CHUNK]
        for phone, reachable, person in planning.load_people(session, part).values():
            if reachable and person.id in inside:
                groups.setdefault(phone, []).append(person)
    alert = Alert(id=0, category=category, texts={"default": text})
    opted = set(session.scalars(select(OptOut.phone)))
    zone = ZoneInfo(current.settings().timezone)
    rows, _declined = planning.message_rows(alert, groups, opted, zone)
    for row in rows:
        people = groups[row["phone"]]
        language = next((p.language for p in people if p.id == row["resident_id"]), "")
        row["body"] = prefix(language) + row["body"]
    return rows


async def _send_all(settings: Settings, rows: list[dict], rate: float) -> tuple[int, int, float]:
    limiter = RateLimiter(redis_for(settings.redis_url), f"drill:{sender_of(settings)}", rate)
    sem = asyncio.Semaphore(max(1, settings.sms_concurrency))
    accepted = refused = 0
    start = time.monotonic()
    last = start

    async def one(provider: Provider, row: dict, at: float) -> None:
        nonlocal accepted, refused, last
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        async with sem:
            try:
                await provider.send(row["phone"], row["body"])
            except ProviderError:
                refused += 1
                return
        accepted += 1
        last = time.monotonic()

    async with Provider(settings) as provider:
        tasks, pos = [], 0
        while pos < len(rows):
            grant = limiter.acquire(min(GRANT, len(rows) - pos))
            now = time.monotonic()
            if not grant.count:
                await asyncio.sleep(grant.first)
                continue
            for k in range(grant.count):
                at = now + grant.first + k * grant.interval
                tasks.append(asyncio.create_task(one(provider, rows[pos], at)))
                pos += 1
            await asyncio.sleep(max(0.0, grant.first + (grant.count - 1) * grant.interval))
        await asyncio.gather(*tasks)
    return accepted, refused, last - start


def run_drill(
    session: Session,
    area: BaseGeometry,
    *,
    category: str = "evacuation",
    text: str = "Drill: this is only a test, no action is needed.",
    rate: float | None = None,
    who: str = "cli",
) -> DrillReport:
    """Send the drill to an in-process simulator and measure it (see the module docstring)."""
    settings = current.settings()
    rate = rate or settings.sms_rate_per_second
    rows = drill_rows(session, area, category, text)
    due = [r for r in rows if r["status"] == "pending" and r["next_attempt_at"] is None]
    sim = start_in_thread(SimulatorConfig(callback_delay_ms=0.0))
    try:
        drill_settings = settings.replace(
            sms_provider="simulator",
            simulator_url=sim.url,
            twilio_account_sid=DEFAULT_ACCOUNT_SID,
            twilio_auth_token=DEFAULT_AUTH_TOKEN,
            twilio_messaging_service_sid="",
        )
        if base_url(drill_settings) != sim.url:  # never anything but the simulator here
            raise RuntimeError("the drill must only reach its own simulator")
        # in a thread of its own: a caller's running event loop (an embedding app, a test's
        # browser driver) must not stop the drill
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(asyncio.run, _send_all(drill_settings, due, rate))
            accepted, refused, seconds = run.result()
    finally:
        sim.shutdown()
    report = DrillReport(
        recipients=len(due),
        held=sum(1 for r in rows if r["status"] == "pending" and r["next_attempt_at"]),
        opted_out=sum(1 for r in rows if r["status"] == "skipped"),
        accepted=accepted,
        refused=refused,
        seconds=round(seconds, 3),
        rate=rate,
    )
    record(session, who, "drill.run", "drill", category=category, **report.as_dict())
    session.commit()
    return report
