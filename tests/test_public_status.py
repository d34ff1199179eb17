"""What /public says about an alert: in force, upcoming, ended, cancelled or superseded, from its
validity (onset, expires) and status, never from how far its SMS delivery has come."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from alerting.models import Alert, utcnow
from alerting.validity import is_published, public_status

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


NOW = datetime(2026, 12, 3, 12, 0)


def alert_at(status="completed", **fields):
    """An alert valid 10:00-14:00 on 3 December (UTC), not stored."""
    fields = {"onset": datetime(2026, 12, 3, 10), "expires": datetime(2026, 12, 3, 14)} | fields
    return Alert(category="evacuation", status=status, **fields)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (datetime(2026, 12, 3, 9, 59), "upcoming"),
        (datetime(2026, 12, 3, 10, 0), "in_force"),
        (datetime(2026, 12, 3, 13, 59, 59), "in_force"),
        (datetime(2026, 12, 3, 14, 0), "ended"),
        (datetime(2026, 12, 5), "ended"),
    ],
)
def test_public_status_follows_onset_and_expires(now, status):
    assert public_status(alert_at(), now) == status


@pytest.mark.parametrize("delivery", ["scheduled", "sending", "sent", "completed"])
def test_public_status_never_depends_on_delivery(delivery):
    assert public_status(alert_at(delivery), NOW) == "in_force"


def test_a_cancelled_alert_is_cancelled_whatever_its_times():
    assert public_status(alert_at("cancelled"), NOW) == "cancelled"
    assert public_status(alert_at("cancelled", superseder=alert_at()), NOW) == "cancelled"


def test_an_alert_an_all_clear_followed_is_superseded_even_before_it_expires():
    all_clear = alert_at(onset=NOW - timedelta(minutes=5), response_type="AllClear")
    assert public_status(alert_at(superseder=all_clear), NOW) == "superseded"
    later = alert_at(onset=NOW + timedelta(minutes=5), response_type="AllClear")
    assert public_status(alert_at(superseder=later), NOW) == "in_force"


def test_an_alert_without_recorded_validity_counts_from_its_start():
    old = Alert(category="water", status="completed", started_at=datetime(2026, 12, 3, 11))
    assert public_status(old, NOW) == "in_force"
    assert public_status(old, datetime(2026, 12, 5, 11)) == "ended"  # water: 48 hours


@pytest.mark.parametrize(
    ("fields", "published"),
    [
        ({"status": "completed"}, True),
        ({"status": "sending"}, True),
        ({"status": "completed", "exercise": True}, False),
        ({"status": "draft"}, False),
        ({"status": "pending_approval"}, False),
        ({"status": "rejected"}, False),
        ({"status": "scheduled"}, False),
        ({"status": "cancelled", "started_at": None}, False),
        ({"status": "cancelled", "started_at": NOW}, True),
    ],
)
def test_only_alerts_residents_were_sent_and_never_exercises_are_published(fields, published):
    assert is_published(alert_at(**{"exercise": False} | fields)) is published


def test_public_shows_current_alerts_and_recently_ended_apart_never_exercises_or_unsent(
    client, session
):
    now = utcnow()
    hour = timedelta(hours=1)
    in_force = stored_alert(session, "Leave Sentrum", onset=now - hour, expires=now + hour)
    upcoming = stored_alert(
        session,
        "Water off Friday",
        category="water",
        onset=now + 48 * hour,
        expires=now + 50 * hour,
    )
    ended = stored_alert(session, "Earlier", onset=now - 3 * hour, expires=now - hour)
    stored_alert(session, "Long ago", onset=now - 50 * hour, expires=now - 30 * hour)
    for status in ("draft", "pending_approval", "rejected", "scheduled"):
        stored_alert(session, f"Not sent {status}", status=status, expires=now + hour)
    stored_alert(session, "A drill", exercise=True, onset=now - hour, expires=now + hour)
    page = client.get("/public", headers={"Accept-Language": "en"}).get_data(as_text=True)
    current, recent = page.split('id="recently-ended"')
    assert "in force" in card(current, in_force.id)
    assert "upcoming" in card(current, upcoming.id)
    assert "ended" in card(recent, ended.id) and f'data-alert-id="{ended.id}"' not in current
    for hidden in ("Long ago", "Not sent", "A drill"):
        assert hidden not in page
    assert client.get(f"/public/alerts/{in_force.id}").status_code == 200


def test_public_pages_never_show_an_exercise_or_an_alert_pending_approval(client, session):
    drill = stored_alert(session, "A drill", exercise=True, expires=utcnow() + timedelta(hours=1))
    pending = stored_alert(session, "Waits", status="pending_approval")
    for alert in (drill, pending):
        assert client.get(f"/public/alerts/{alert.id}").status_code == 404


def test_public_status_is_translated(app, client):
    # outside an app context, so that each request chooses its own language
    session = app.extensions["alerting.sessionmaker"]()
    stored_alert(session, "Forlat sentrum", expires=utcnow() + timedelta(hours=1))
    session.close()
    for lang, word in (("nb", "gjelder"), ("sv", "gäller"), ("da", "gælder")):
        page = client.get("/public", headers={"Accept-Language": lang}).get_data(as_text=True)
        assert word in page, lang


def test_an_all_clear_is_labelled_all_clear_not_as_the_danger_it_ends(app, client):
    """A red "Evacuation · in force" card for the all-clear read as the evacuation itself."""
    # outside an app context, so that each request chooses its own language
    session = app.extensions["alerting.sessionmaker"]()
    now = utcnow()
    evacuation = stored_alert(session, "Leave Sentrum", expires=now + timedelta(hours=3))
    all_clear = stored_alert(
        session,
        "All clear Sentrum",
        parent_id=evacuation.id,
        response_type="AllClear",
        expires=now + timedelta(hours=3),
    )
    evacuation.superseder = all_clear
    session.commit()
    all_clear_id = all_clear.id
    session.close()
    for lang, label in (("en", "All clear"), ("nb", "Faren er over")):
        page = client.get("/public", headers={"Accept-Language": lang}).get_data(as_text=True)
        shown = card(page, all_clear_id)
        tag = page[page.rindex("<li", 0, page.index(f'data-alert-id="{all_clear_id}"')) :]
        assert "all-clear" in tag.split(">")[0] and label in shown
        assert "Evacuation" not in shown and "Evakuering" not in shown
