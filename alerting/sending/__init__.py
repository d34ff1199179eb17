"""Sending: planning, fan-out under a global rate limit, provider, receipts, sweep.

Modules: `provider` (Twilio SDK, also against the simulator), `vonage` (the second provider's
SDK), `providers` (which provider takes a batch, their health, failover), `ratelimit` (GCRA in
Redis), `queues` (RQ queues by urgency), `planning` (message rows and send jobs), `fanout` (send
jobs), `status` (receipts, opt-outs), `sweep` (repair and completion), `transactional` (sign-in
codes).
"""

from __future__ import annotations


def send_transactional(phone: str, body: str) -> None:
    """Enqueue one non-alert SMS (e.g. a sign-in code) on the most urgent queue; it goes through
    the same provider and rate limiter as alerts. Call inside a Flask app context."""
    from alerting.sending.transactional import enqueue_transactional

    enqueue_transactional(phone, body)
