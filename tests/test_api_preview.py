"""POST /api/v1/areas/preview: 401 without credentials, 422 with a reason, 200 with counts."""

from __future__ import annotations

from alerting.models import Location, OptOut, Resident

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def add_resident(session, phone, lon, lat, reachable=True):
    session.add(
        Resident(
            phone=phone,
            reachable=reachable,
            language="nb",
            locations=[Location(label="home", lon=lon, lat=lat)],
        )
    )


def test_preview_without_credentials_is_401(client):
    response = client.post("/api/v1/areas/preview", json={"area": AREA})
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_preview_with_a_wrong_key_is_401(client):
    response = client.post(
        "/api/v1/areas/preview", json={"area": AREA}, headers={"Authorization": "Bearer alk_wrong"}
    )
    assert response.status_code == 401


def test_preview_of_a_bad_area_is_422_with_reason(client, api_key):
    response = client.post(
        "/api/v1/areas/preview",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"area": {"type": "LineString", "coordinates": [[5, 60], [6, 61]]}},
    )
    assert response.status_code == 422
    assert response.json == {
        "error": "not an area",
        "detail": "the area is a LineString; draw a Polygon, MultiPolygon or circle",
    }


def test_preview_without_an_area_member_is_422(client, api_key):
    response = client.post(
        "/api/v1/areas/preview",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"polygon": AREA},
    )
    assert response.status_code == 422
    assert response.json["error"] == "missing area"


def test_preview_counts_residents_phones_and_opt_outs(client, api_key, session):
    add_resident(session, "+4791000001", 5.31, 60.39)
    add_resident(session, "+4791000001", 5.32, 60.39)  # same household phone
    add_resident(session, "+4791000002", 5.33, 60.39)
    add_resident(session, "+4722000003", 5.33, 60.385, reachable=False)  # fixed line
    add_resident(session, "+4791000004", 5.50, 60.39)  # outside
    session.add(OptOut(phone="+4791000002", source="sms"))
    session.commit()
    response = client.post(
        "/api/v1/areas/preview", headers={"Authorization": f"Bearer {api_key}"}, json={"area": AREA}
    )
    assert response.status_code == 200
    assert response.json["residents"] == 4
    assert response.json["phones"] == 2
    assert response.json["opted_out"] == 1
    assert response.json["bbox"] == [5.30, 60.38, 5.34, 60.40]


def test_cookie_session_without_csrf_token_is_refused(client, app, session):
    from alerting.auth import SESSION_VERSION, create_staff_user

    user = create_staff_user(session, "viewer@example.org", "viewer", "a-long-password")
    session.commit()
    with client.session_transaction() as browser:
        browser["_user_id"] = str(user.id)
        browser["_fresh"] = True
        browser[SESSION_VERSION] = user.session_version
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/api/v1/areas/preview", json={"area": AREA})
    assert response.status_code == 400
    assert response.json["error"] == "CSRF check failed"
