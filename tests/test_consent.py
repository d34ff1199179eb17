"""Consent that holds: a STOP outlives "delete me" (as an HMAC of the number, never the number),
so a later register import cannot bring the phone back; only START or a new sign-up does.
And a resident's own settings do not invalidate every process's register snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_inbound import sms

from alerting.models import (
    ConsentEvent,
    Location,
    Message,
    OptOut,
    RegisterVersion,
    Resident,
    Suppression,
)
from alerting.portal.codes import issue_code
from alerting.register_import import import_bytes
from alerting.sending import planning

PHONE = "+4790000001"
AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}
REGISTER = (
    "external_id,name,phone,language,address,lat,lon,label\n"
    f"r1,Kari,{PHONE},nb,Strandkaien 1,60.39,5.32,home\n"
    "r2,Ola,+4790000002,nb,Strandkaien 3,60.39,5.33,home\n"
)


@pytest.fixture
def db(app):
    """A session outside any app context, so each test request gets its own (and its own g)."""
    app.config["WTF_CSRF_ENABLED"] = False
    s = app.extensions["alerting.sessionmaker"]()
    yield s
    s.rollback()
    s.close()


def add_resident(db, phone=PHONE) -> Resident:
    resident = Resident(phone=phone, source="self", language="nb")
    resident.locations.append(Location(label="home", lat=60.39, lon=5.32))
    db.add(resident)
    db.add(ConsentEvent(phone=phone, action="opt_in", source="self_signup"))
    db.commit()
    return resident


def sign_in(client, resident):
    with client.session_transaction() as sess:
        sess["resident_id"] = resident.id


def delete_me(client, db, resident):
    sign_in(client, resident)
    assert client.post("/me/delete", data={"confirm": "yes"}).status_code == 302
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Resident)) == 0


def import_register(app, db):
    with app.app_context():  # as the CLI and the staff upload run it
        report = import_bytes(db, "register.csv", REGISTER.encode(), "NO", "nb")
    assert report.imported == 2, report.as_dict()


def preview(client, api_key) -> dict:
    response = client.post(
        "/api/v1/areas/preview", headers={"Authorization": f"Bearer {api_key}"}, json={"area": AREA}
    )
    assert response.status_code == 200
    return response.json


def plan_water_alert(app, client, api_key, db) -> dict[str, str]:
    """Create and plan a water alert to AREA; phone → message status."""
    response = client.post(
        "/api/v1/alerts",
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "area": AREA,
            "category": "water",
            "severity": "moderate",
            "title": "Water off",
            "message": {"default": "Water off 10-14"},
        },
    )
    assert response.status_code == 201, response.json
    alert_id = response.json["id"]
    with app.app_context():
        planning.plan(alert_id)
    db.expire_all()
    return dict(db.execute(select(Message.phone, Message.status)).all())


def test_stop_outlives_delete_me_and_a_later_import(app, client, db, api_key):
    me = add_resident(db)
    sms(client, app, "STOP")
    delete_me(client, db, me)
    kept = db.scalars(select(Suppression)).all()
    assert len(kept) == 1 and kept[0].source == "sms"
    assert "90000001" not in kept[0].phone_hmac  # the HMAC, never the number
    import_register(app, db)
    assert preview(client, api_key) | {"languages": None, "bbox": None} == {
        "residents": 2,
        "phones": 2,
        "opted_out": 1,
        "landlines": 0,
        "languages": None,
        "bbox": None,
    }
    assert plan_water_alert(app, client, api_key, db) == {
        PHONE: "skipped",
        "+4790000002": "pending",
    }
    assert db.get(OptOut, PHONE).source == "sms"  # staff and the portal see it opted out too


def test_consent_history_is_kept_under_the_hmac_after_delete_me(app, client, db):
    me = add_resident(db)
    sms(client, app, "STOP")
    delete_me(client, db, me)
    history = db.execute(select(ConsentEvent.phone, ConsentEvent.action)).all()
    hashed = db.scalar(select(Suppression.phone_hmac))
    assert history == [(hashed, "opt_in"), (hashed, "opt_out")]  # the proof of consent stays
    assert len(hashed) == 64 and PHONE not in hashed


def test_delete_me_without_stop_leaves_no_suppression(app, client, db, api_key):
    delete_me(client, db, add_resident(db))
    assert db.scalar(select(func.count()).select_from(Suppression)) == 0
    import_register(app, db)
    assert preview(client, api_key)["opted_out"] == 0


def test_start_after_delete_me_lifts_the_suppression(app, client, db, api_key):
    me = add_resident(db)
    sms(client, app, "STOP", sid="SM1")
    delete_me(client, db, me)
    sms(client, app, "START", sid="SM2")
    assert db.scalar(select(func.count()).select_from(Suppression)) == 0
    import_register(app, db)
    assert preview(client, api_key)["opted_out"] == 0
    assert plan_water_alert(app, client, api_key, db)[PHONE] == "pending"


def test_a_new_portal_sign_up_is_an_opt_in(app, client, db, api_key):
    me = add_resident(db)
    sms(client, app, "STOP")
    delete_me(client, db, me)
    code = issue_code(db, PHONE, "", 10)
    db.commit()
    with client.session_transaction() as sess:
        sess["portal_phone"] = PHONE
    assert client.post("/me/verify", data={"code": code}).status_code == 302
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Suppression)) == 0
    assert db.get(OptOut, PHONE) is None
    import_register(app, db)
    assert preview(client, api_key)["opted_out"] == 0


def test_signing_up_after_stop_from_an_unknown_number_opts_in(app, client, db):
    sms(client, app, "STOP")  # a number not in the register
    code = issue_code(db, PHONE, "", 10)
    db.commit()
    with client.session_transaction() as sess:
        sess["portal_phone"] = PHONE
    client.post("/me/verify", data={"code": code})
    db.expire_all()
    assert db.get(OptOut, PHONE) is None  # signing up is their opt-in, so it must count
    actions = db.execute(select(ConsentEvent.action, ConsentEvent.source).order_by(ConsentEvent.id))
    assert actions.all() == [("opt_out", "sms"), ("opt_in", "self_signup")]


# -- the register snapshot: only places, phones and languages move it -----------------------


def register_version(db) -> int:
    db.expire_all()
    return db.scalar(select(RegisterVersion.locations).where(RegisterVersion.id == 1))


def test_own_settings_leave_the_register_version_while_a_language_or_a_move_bumps_it(
    app, client, db, api_key
):
    me = add_resident(db)
    sign_in(client, me)
    before = register_version(db)
    client.post("/me/pause", data={"paused": "1"})
    client.post("/me/quiet-hours", data={"enabled": "1", "start": "22:00", "end": "07:00"})
    client.post("/me/categories", data={"categories": ["info"]})
    place = db.scalar(select(Location))
    client.post(f"/me/places/{place.id}/label", data={"label": "cabin"})
    assert register_version(db) == before
    client.post("/me/language", data={"language": "sv"})  # the preview counts languages
    assert register_version(db) == before + 1
    before += 1
    db.refresh(me)
    assert me.paused and me.language == "sv"
    # settings are read when planning, so the pause holds without a new snapshot
    assert plan_water_alert(app, client, api_key, db) == {}
    place = db.get(Location, place.id)
    place.lat = 60.395  # moved
    db.commit()
    assert register_version(db) == before + 1


def test_adding_a_place_in_the_portal_bumps_the_register_version(app, client, db):
    me = add_resident(db)
    sign_in(client, me)
    before = register_version(db)
    client.post("/me/places", data={"label": "cabin", "lat": "60.5", "lon": "6.1", "address": ""})
    assert register_version(db) == before + 1
