"""One SMS that belongs to no alert (a sign-in code): urgent queue, same provider and limiter."""

from __future__ import annotations

import asyncio
import logging

from alerting.phones import mask
from alerting.sending.provider import Provider, ProviderError, sender_of
from alerting.sending.queues import URGENT, job_context, redis_for
from alerting.sending.ratelimit import RateLimiter

log = logging.getLogger(__name__)


def send_transactional_job(phone: str, body: str) -> str | None:
    """RQ entry point: wait for a rate-limit slot, send, return the provider's id."""
    with job_context() as app:
        settings = app.extensions["alerting.settings"]
        conn = redis_for(settings.redis_url)
        limiter = RateLimiter(conn, sender_of(settings), settings.sms_rate_per_second)

        async def run() -> str | None:
            while True:
                grant = limiter.acquire(1)
                await asyncio.sleep(max(grant.first, 0.0))
                if grant.count:
                    break
            async with Provider(settings) as provider:
                try:
                    return (await provider.send(phone, body)).sid
                except ProviderError as exc:
                    if exc.retry_after or exc.code in ("429", "20429"):
                        limiter.slow_down(exc.retry_after or 1.0)
                    log.warning("transactional SMS to %s failed: %s", mask(phone), exc)
                    if exc.transient:
                        raise  # RQ's Retry on the job tries again
                    return None

        return asyncio.run(run())


def enqueue_transactional(phone: str, body: str) -> None:
    from flask import current_app
    from rq import Queue, Retry

    settings = current_app.extensions["alerting.settings"]
    Queue(URGENT, connection=redis_for(settings.redis_url)).enqueue(
        "alerting.sending.transactional.send_transactional_job",
        phone,
        body,
        job_timeout=60,
        result_ttl=300,
        failure_ttl=24 * 3600,
        retry=Retry(max=3),
    )
