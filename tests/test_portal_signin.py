"""Sign-up and sign-in by SMS code end to end (worker, twilio SDK, simulator), and its limits."""

from __future__ import annotations

import pytest
from portal_helpers import codes_sent, wait_for_code
from sqlalchemy import func, select
from stack import configure, stack_fixture, wait_for  # noqa: F401  (the `stack` fixture)

from alerting.models import ConsentEvent, Location, Resident

NEW = "+4791234567"


@pytest.fixture
def no_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False


def ask_code(client, phone, ip="10.1.1.1"):
    return client.post("/me/sign-in", data={"phone": phone}, environ_base={"REMOTE_ADDR": ip})


def count(session, model, *where):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_new_number_signs_up_with_the_code_it_received(app, client, session, stack, no_csrf):
    s = stack(workers=1)
    response = ask_code(client, "912 34 567")
    assert response.status_code == 302 and response.location.endswith("/me/verify")
    code = wait_for_code(s.sim.url, NEW)
    assert client.post("/me/verify", data={"code": code}).location.endswith("/me/places")
    resident = session.scalar(select(Resident).where(Resident.phone == NEW))
    assert resident.source == "self"
    consent = session.scalar(select(ConsentEvent).where(ConsentEvent.phone == NEW))
    assert (consent.action, consent.source) == ("opt_in", "self_signup")
    assert client.get("/me/settings").status_code == 200


def test_an_imported_resident_signs_in_and_sees_their_places(app, client, session, stack, no_csrf):
    imported = Resident(phone=NEW, source="import", name="Kari")
    imported.locations.append(Location(label="home", lat=60.39, lon=5.32, address="Kaien 1"))
    session.add(imported)
    session.commit()
    s = stack(workers=1)
    ask_code(client, NEW)
    code = wait_for_code(s.sim.url, NEW)
    assert client.post("/me/verify", data={"code": code}).location.endswith("/me/settings")
    assert "Kaien 1" in client.get("/me/places").get_data(as_text=True)
    assert count(session, Resident) == 1


def test_the_answer_is_the_same_for_known_and_unknown_numbers(app, client, session, no_csrf):
    session.add(Resident(phone=NEW, source="import"))
    session.commit()
    known = ask_code(client, NEW, ip="10.0.0.1")
    unknown = ask_code(client, "+4798765432", ip="10.0.0.2")
    assert (known.status_code, known.location) == (unknown.status_code, unknown.location)
    assert client.get("/me/verify").get_data(as_text=True).count("If +47•••••432") == 1


def test_wrong_codes_are_stopped_after_five_attempts(app, client, session, stack, no_csrf):
    s = stack(workers=1)
    ask_code(client, NEW)
    code = wait_for_code(s.sim.url, NEW)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    answers = [client.post("/me/verify", data={"code": wrong}) for _ in range(5)]
    assert [a.status_code for a in answers] == [422] * 5
    assert "Too many wrong attempts" in answers[-1].get_data(as_text=True)
    # the right code is dead now, and nobody got signed in
    late = client.post("/me/verify", data={"code": code})
    assert late.location.endswith("/me/sign-in")
    assert count(session, Resident) == 0


def test_code_requests_are_limited_per_number_per_ip_and_in_total(
    app, client, session, stack, no_csrf
):
    configure(app, signin_codes_per_number=2, signin_codes_per_ip=4, signin_codes_per_hour=6)
    s = stack(workers=1)
    assert [ask_code(client, NEW, ip=f"10.0.0.{i}").status_code for i in range(3)] == [
        302,
        302,
        429,
    ]
    refused = ask_code(client, NEW, ip="10.0.0.9").get_data(as_text=True)
    assert "Too many codes have been sent to this number" in refused
    flood = [ask_code(client, f"+479000000{i}", ip="10.9.9.9").status_code for i in range(5)]
    assert flood == [302, 302, 302, 302, 429]
    assert "requested from your network" in ask_code(client, "+4790000009", "10.9.9.9").get_data(
        as_text=True
    )
    assert ask_code(client, "+4790000010", ip="10.7.7.7").status_code == 429
    total = ask_code(client, "+4790000011", ip="10.8.8.8").get_data(as_text=True)
    assert "sending too many codes right now" in total
    wait_for(lambda: len(codes_sent(s.sim.url, "+4790000003")) == 1, message="the 4th flood SMS")
    assert codes_sent(s.sim.url, "+4790000004") == []
    assert len(codes_sent(s.sim.url, NEW)) == 2
