"""The SMS providers' health for staff: each provider's weight, tries and error share over the
last minute, and whether it is demoted (its traffic moved to the others), so a coordinator
watching a send knows why messages come through the second provider."""

from __future__ import annotations

from flask import render_template

from alerting import current
from alerting.auth import require_role
from alerting.sending.providers import PROBE_AFTER_S, WINDOW_S, health
from alerting.sending.queues import redis_for
from alerting.staff import bp


@bp.get("/providers")
@require_role("coordinator")
def provider_health():
    settings = current.settings()
    rows = health(redis_for(settings.redis_url), settings)
    return render_template(
        "staff/providers.html",
        providers=rows,
        window_s=WINDOW_S,
        probe_s=int(PROBE_AFTER_S),
        threshold=settings.provider_error_threshold,
    )
