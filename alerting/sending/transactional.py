"""One SMS that belongs to no alert (a sign-in code): urgent queue, same provider and limiter."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from alerting.config import Settings
from alerting.models import utcnow
from alerting.phones import mask
from alerting.sending.provider import Provider, ProviderError, sender_of
from alerting.sending.queues import URGENT, job_context, redis_for
from alerting.sending.ratelimit import RateLimiter
from alerting.sending.reconcile import RECONCILE_AFTER_S

log = logging.getLogger(__name__)


CODE_SLOT = "{code}"  # where a sealed sign-in code goes in the body, filled in only by the job


def send_transactional_job(phone: str, body: str) -> str | None:
    """RQ entry point: wait for a rate-limit slot, send, return the provider's id."""
    with job_context() as app:
        return _send(app.extensions["alerting.settings"], phone, body)


def send_code_job(phone: str, body: str, code_id: int, sealed: str) -> str | None:
    """RQ entry point for a sign-in code: the job holds it only sealed with SECRET_KEY."""
    from alerting.portal.codes import unseal_code

    with job_context() as app:
        settings = app.extensions["alerting.settings"]
        code = unseal_code(settings.secret_key, code_id, sealed)
        return _send(settings, phone, body.replace(CODE_SLOT, code))


def _send(settings: Settings, phone: str, body: str) -> str | None:
    """Wait for a slot of the sender's rate limit, send, return the provider's id."""
    conn = redis_for(settings.redis_url)
    limiter = RateLimiter(conn, sender_of(settings), settings.sms_rate_per_second)

    async def run() -> str | None:
        while True:
            grant = limiter.acquire(1)
            await asyncio.sleep(max(grant.first, 0.0))
            if grant.count:
                break
        async with Provider(settings) as provider:
            since = utcnow()
            try:
                return (await provider.send(phone, body)).sid
            except ProviderError as exc:
                if exc.retry_after or exc.code in ("429", "20429"):
                    limiter.slow_down(exc.retry_after or 1.0)
                log.warning("transactional SMS to %s failed: %s", mask(phone), exc)
                if exc.unknown:
                    return await _look_up(provider, phone, body, since)
                if exc.transient:
                    raise  # RQ's Retry on the job tries again: the provider did not take it
                return None

    return asyncio.run(run())


async def _look_up(provider: Provider, phone: str, body: str, since: datetime) -> str | None:
    """After a timeout the provider may hold the SMS: ask it (once the request has settled)
    before RQ's Retry sends it again. If the lookup fails too, give up rather than risk a
    second copy: the person asks for a new code."""
    await asyncio.sleep(RECONCILE_AFTER_S)
    try:
        found = await provider.find_sent(phone, body, since)
    except ProviderError as exc:
        log.warning("transactional SMS to %s: lookup failed, not resent: %s", mask(phone), exc)
        return None
    if found is not None:
        return found.sid
    raise ProviderError("not_found", "the provider holds no such message", transient=True)


def enqueue_transactional(phone: str, body: str) -> None:
    _enqueue("send_transactional_job", phone, body)


def enqueue_code(phone: str, body: str, code_id: int, sealed: str) -> None:
    """Queue a sign-in code: `body` has CODE_SLOT where the unsealed code goes."""
    _enqueue("send_code_job", phone, body, code_id, sealed)


def _enqueue(job: str, *args: object) -> None:
    from flask import current_app
    from rq import Queue, Retry

    settings = current_app.extensions["alerting.settings"]
    Queue(URGENT, connection=redis_for(settings.redis_url)).enqueue(
        f"alerting.sending.transactional.{job}",
        *args,
        job_timeout=60,
        result_ttl=300,
        failure_ttl=24 * 3600,
        retry=Retry(max=3),
    )
