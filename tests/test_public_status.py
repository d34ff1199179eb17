"""What /public says about an alert: in force, upcoming, ended, cancelled or superseded, from its
validity (onset, expires) and status, never from how far its SMS delivery has come."""

from __future__ import annotations

import json
from datetime import timedelta

from alerting.models import Alert, utcnow

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.3, 60.38], [5.34, 60.38], [5.34, 60.40], [5.3, 60.40], [5.3, 60.38]]],
}


def stored_alert(session, title, status="completed", category="evacuation", **fields):
    alert = Alert(
        category=category,
        severity="extreme",
        title=title,
        texts={"default": f"{title} text", "en": f"{title} in English"},
        area_geojson=json.dumps(SQUARE),
        status=status,
        started_at=utcnow() - timedelta(minutes=10),
        completed_at=utcnow() - timedelta(minutes=9),
        **fields,
    )
    session.add(alert)
    session.commit()
    return alert


def card(page: str, alert_id: int) -> str:
    start = page.index(f'data-alert-id="{alert_id}"')
    return page[start : page.index("</li>", start)]


def test_a_delivered_evacuation_is_in_force_on_public_until_it_expires(client, session):
    """The defect: every SMS delivered (status completed) made /public say "ended"."""
    now = utcnow()
    evacuation = stored_alert(
        session,
        "Leave Sentrum",
        onset=now - timedelta(minutes=10),
        expires=now + timedelta(hours=3),
    )
    page = client.get("/public", headers={"Accept-Language": "en"}).get_data(as_text=True)
    shown = card(page, evacuation.id)
    assert "in force" in shown
    assert "ended" not in shown
