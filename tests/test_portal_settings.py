"""The residents' portal without the SMS round trip: settings, places, privacy, public map.

Sign-in itself (code by SMS through the simulator) is covered end to end in tests/browser_portal.
"""

from __future__ import annotations

import json
from datetime import time, timedelta

import pytest
from sqlalchemy import func, select

from alerting.models import (
    Alert,
    ConsentEvent,
    DeliveryEvent,
    InboundMessage,
    Location,
    Message,
    OptOut,
    Resident,
    VerificationCode,
    utcnow,
)

PHONE = "+4791234567"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.3, 60.38], [5.34, 60.38], [5.34, 60.40], [5.3, 60.40], [5.3, 60.38]]],
}


@pytest.fixture
def db(app):
    """A session outside any app context, so each test request gets its own (and its own g)."""
    s = app.extensions["alerting.sessionmaker"]()
    yield s
    s.rollback()
    s.close()


def add_resident(db, phone=PHONE, source="import", address="Strandkaien 1, Bergen", **kw):
    resident = Resident(phone=phone, source=source, language="nb", **kw)
    resident.locations.append(Location(label="home", lat=60.39, lon=5.32, address=address))
    db.add(resident)
    db.add(ConsentEvent(phone=phone, action="opt_in", source=source))
    db.commit()
    return resident


def sign_in(client, resident):
    with client.session_transaction() as sess:
        sess["resident_id"] = resident.id


def csrf_off(app):
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.mark.parametrize(
    "path", ["/me/settings", "/me/places", "/me/export", "/me/delete", "/me/addresses?q=Str"]
)
def test_portal_pages_need_a_signed_in_resident(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.location.endswith("/me/sign-in")


def test_sign_in_page_is_in_the_chosen_language(client):
    client.get("/me/language/nb")
    page = client.get("/me/sign-in").get_data(as_text=True)
    assert 'lang="nb"' in page and "Send meg en kode" in page


def test_categories_cannot_decline_life_safety(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    sign_in(client, me)
    client.post("/me/categories", data={"categories": ["info", "evacuation"]})
    db.refresh(me)
    assert sorted(me.declined_categories) == ["test", "water"]


def test_settings_apply_to_every_resident_sharing_the_phone(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    partner = add_resident(db, address="Strandkaien 1, Bergen")
    sign_in(client, me)
    client.post("/me/quiet-hours", data={"enabled": "1", "start": "22:00", "end": "07:00"})
    client.post("/me/pause", data={"paused": "1"})
    client.post("/me/language", data={"language": "sv"})
    for person in (me, partner):
        db.refresh(person)
        assert (person.quiet_start, person.quiet_end) == (time(22, 0), time(7, 0))
        assert person.paused and person.language == "sv"
    client.post("/me/pause", data={})
    client.post("/me/quiet-hours", data={})
    db.refresh(partner)
    assert not partner.paused and partner.quiet_start is None


def test_quiet_hours_need_two_different_times(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    sign_in(client, me)
    client.post("/me/quiet-hours", data={"enabled": "1", "start": "22:00", "end": "22:00"})
    page = client.get("/me/settings").get_data(as_text=True)
    db.refresh(me)
    assert me.quiet_start is None and "Give a start and an end time" in page


def test_unsubscribe_and_subscribe_again_record_consent(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    sign_in(client, me)
    client.post("/me/unsubscribe")
    assert db.get(OptOut, PHONE).source == "portal"
    assert 'data-state="opted-out"' in client.get("/me/settings").get_data(as_text=True)
    client.post("/me/subscribe")
    db.expire_all()
    assert db.get(OptOut, PHONE) is None
    history = db.execute(
        select(ConsentEvent.action, ConsentEvent.source).order_by(ConsentEvent.id)
    ).all()
    assert history == [("opt_in", "import"), ("opt_out", "portal"), ("opt_in", "portal")]


def test_stop_by_sms_shows_in_the_portal(app, client, db):
    me = add_resident(db)
    db.add(OptOut(phone=PHONE, source="sms"))
    db.commit()
    sign_in(client, me)
    page = client.get("/me/settings").get_data(as_text=True)
    assert 'data-state="opted-out"' in page and "STOP" in page


def test_places_are_added_relabelled_and_removed(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    sign_in(client, me)
    client.post("/me/places", data={"label": "cabin", "lat": "60.5", "lon": "6.1", "address": ""})
    cabin = db.scalar(select(Location).where(Location.label == "cabin"))
    assert (cabin.resident_id, cabin.lat, cabin.lon) == (me.id, 60.5, 6.1)
    client.post(f"/me/places/{cabin.id}/label", data={"label": "other"})
    db.refresh(cabin)
    assert cabin.label == "other"
    client.post(f"/me/places/{cabin.id}/delete")
    assert db.scalar(select(func.count()).select_from(Location)) == 1
    bad = client.post("/me/places", data={"label": "castle", "lat": "91", "lon": "6"})
    assert bad.status_code == 422


def test_nobody_can_remove_someone_elses_place(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    other = add_resident(db, phone="+4798765432")
    sign_in(client, me)
    response = client.post(f"/me/places/{other.locations[0].id}/delete")
    assert response.status_code == 404


def test_address_search_returns_register_addresses_only(app, client, db):
    me = add_resident(db)
    add_resident(db, phone="+4798765432", address="Strandkaien 3, Bergen", name="Kari")
    add_resident(db, phone="+4798765433", source="self", address="Strandkaien 99, Secret cabin")
    sign_in(client, me)
    assert client.get("/me/addresses?q=St").get_json() == []
    found = client.get("/me/addresses?q=strandkaien").get_json()
    assert [f["address"] for f in found] == ["Strandkaien 1, Bergen", "Strandkaien 3, Bergen"]
    assert set(found[0]) == {"address", "lat", "lon"}
    assert client.get("/me/addresses?q=100%25").get_json() == []


def completed_water_alert(db) -> Alert:
    """An alert that has been sent, for rows that point at it."""
    alert = Alert(
        category="water",
        severity="minor",
        title="Water off",
        texts={"default": "Water off"},
        area_geojson=json.dumps(SQUARE),
        status="completed",
    )
    db.add(alert)
    db.flush()
    return alert


def test_export_holds_phone_places_settings_consent_and_alerts(app, client, db):
    me = add_resident(db, declined_categories=["info"])
    alert = completed_water_alert(db)
    db.add(
        Message(
            alert_id=alert.id,
            phone=PHONE,
            resident_id=me.id,
            body="Water off",
            status="delivered",
            sent_at=utcnow(),
        )
    )
    db.commit()
    sign_in(client, me)
    response = client.get("/me/export")
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["phone"] == PHONE and data["subscribed"] is True
    assert data["places"] == [
        {"label": "home", "address": "Strandkaien 1, Bergen", "lat": 60.39, "lon": 5.32}
    ]
    assert data["settings"]["declined_categories"] == ["info"]
    assert [c["source"] for c in data["consent_history"]] == ["import"]
    assert data["alerts_received"][0]["title"] == "Water off"
    assert data["alerts_received"][0]["status"] == "delivered"


def test_delete_removes_the_number_everywhere(app, client, db):
    csrf_off(app)
    me = add_resident(db)
    alert = completed_water_alert(db)
    message = Message(
        alert_id=alert.id, phone=PHONE, resident_id=me.id, body="x", status="delivered"
    )
    db.add(message)
    db.flush()
    db.add(DeliveryEvent(message_id=message.id, status="delivered", payload={"To": PHONE}))
    db.add(InboundMessage(phone=PHONE, body="thanks", kind="reply", alert_id=alert.id))
    db.add(OptOut(phone=PHONE, source="sms"))
    db.add(VerificationCode(phone=PHONE, code_hash="x", expires_at=utcnow() + timedelta(1)))
    db.commit()
    sign_in(client, me)
    response = client.post("/me/delete", data={"confirm": "yes"})
    assert response.location.endswith("/me/sign-in")
    db.expire_all()
    for model in (Resident, Location, OptOut, VerificationCode):
        assert db.scalar(select(func.count()).select_from(model)) == 0, model
    # the consent history stays as the proof of consent, under the number's HMAC
    consent = db.scalars(select(ConsentEvent.phone)).all()
    assert len(consent) == 1 and PHONE not in consent
    kept = db.scalar(select(Message))
    assert kept.phone == f"deleted-{kept.id}" and kept.resident_id is None
    assert kept.status == "delivered"  # the alert's statistics still add up
    assert db.scalar(select(DeliveryEvent.payload)) == {}
    assert db.scalar(select(InboundMessage.phone)).startswith("deleted-")
    assert db.scalar(select(InboundMessage.body)) == ""
    assert client.get("/me/settings").status_code == 302


def _alert(db, status, title, completed_ago=None):
    alert = Alert(
        category="water",
        severity="moderate",
        title=title,
        texts={"default": f"{title} text", "en": f"{title} in English"},
        area_geojson=json.dumps(SQUARE),
        status=status,
        started_at=None if status in ("draft", "cancelled") else utcnow() - timedelta(days=4),
        completed_at=utcnow() - completed_ago if completed_ago else None,
        onset=utcnow() - timedelta(days=4),
        # what /public goes by: in force until expires, however long ago the SMS were delivered
        expires=utcnow() - completed_ago if completed_ago else utcnow() + timedelta(hours=1),
    )
    db.add(alert)
    db.commit()
    return alert


def test_public_map_shows_current_alerts_and_never_recipients(client, db):
    sending = _alert(db, "sending", "Boil your water")
    _alert(db, "completed", "Yesterday's work", completed_ago=timedelta(hours=2))
    _alert(db, "completed", "Last week", completed_ago=timedelta(days=3))
    draft = _alert(db, "draft", "Not yet")
    _alert(db, "cancelled", "Never mind")
    db.add(Message(alert_id=sending.id, phone=PHONE, body="x"))
    db.commit()
    page = client.get("/public", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Boil your water in English" in page and "Yesterday&#39;s work" in page
    assert "Last week" not in page and "Not yet" not in page and "Never mind" not in page
    assert "4791234567" not in page
    single = client.get(f"/public/alerts/{sending.id}").get_data(as_text=True)
    assert "Boil your water" in single and "5.3" in single
    assert client.get(f"/public/alerts/{draft.id}").status_code == 404
