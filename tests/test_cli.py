"""The `alerting` command as a person meets it: its help, and alerts listed and cancelled."""

from __future__ import annotations

import json

from sqlalchemy import select
from stack import add_resident

from alerting.alerts import create_alert
from alerting.auth import Principal
from alerting.models import AuditEvent, Message
from alerting.sending import planning

AREA = {
    "type": "Polygon",
    "coordinates": [[[5.30, 60.38], [5.34, 60.38], [5.34, 60.40], [5.30, 60.40], [5.30, 60.38]]],
}


def test_help_lists_only_our_commands(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    listing = result.output.split("Commands:")[1].splitlines()
    commands = [line.split()[0] for line in listing if line.startswith("  ")]
    for ours in ("alerts", "areas", "residents", "simulator", "worker", "demo", "dev"):
        assert ours in commands
    for flasks in ("run", "shell", "routes"):
        assert flasks not in commands
    for flag in ("--env-file", "--app", "--debug"):
        assert flag not in result.output


def test_send_help_names_every_choice(cli) -> None:
    helptext = " ".join(cli("alerts", "send", "--help").output.split())
    assert "water, evacuation, fire, flood, gas, info, test" in helptext
    assert "extreme, severe, moderate, minor" in helptext
    assert "--message-xx" in helptext and "nb, nn, sv, da" in helptext


def _planned_alert(app, session, title: str, phone: str = "+4790000001") -> int:
    """An alert planned for everyone in AREA, after adding a resident there with `phone`."""
    add_resident(session, phone, 5.32, 60.39)
    session.commit()
    with app.test_request_context():
        alert = create_alert(
            session,
            Principal("coord@test", "coordinator"),
            area=AREA,
            category="water",
            severity="moderate",
            title=title,
            texts={"default": "Vannet stenges"},
        )
        planning.plan(alert.id)
    return alert.id


def test_alerts_list_newest_first(app, session, cli) -> None:
    assert cli("alerts", "list").output.strip() == "no alerts yet"
    first = _planned_alert(app, session, "Vann")
    second = _planned_alert(app, session, "Vannet igjen", "+4790000002")
    listed = cli("alerts", "list", "--json")
    assert listed.exit_code == 0, listed.output
    alerts = json.loads(listed.output)["alerts"]
    assert [a["id"] for a in alerts] == [second, first]
    assert alerts[1]["title"] == "Vann" and alerts[1]["recipients"] == 1
    lines = cli("alerts", "list").output.splitlines()
    assert len(lines) == 2 and "Vannet igjen" in lines[0] and "water/moderate" in lines[0]


def test_alerts_cancel_stops_pending_messages(app, session, cli) -> None:
    alert_id = _planned_alert(app, session, "Vann")
    result = cli("alerts", "cancel", alert_id)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"alert {alert_id} cancelled: 1 messages stopped"
    session.expire_all()
    assert session.scalars(select(Message.status)).all() == ["cancelled"]
    assert "alert.cancel" in session.scalars(select(AuditEvent.action)).all()
    again = cli("alerts", "cancel", alert_id, "--json")
    assert again.exit_code != 0 and "nothing left to cancel" in again.output
    missing = cli("alerts", "cancel", 999)
    assert missing.exit_code != 0 and "there is no alert 999" in missing.output


def test_apikeys_list_json_never_shows_the_key(cli) -> None:
    created = cli("apikeys", "create", "--name", "sensor", "--role", "viewer")
    assert created.exit_code == 0, created.output
    listed = cli("apikeys", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [key] = json.loads(listed.output)["keys"]
    assert (key["name"], key["role"], key["state"], key["expires_at"]) == (
        "sensor",
        "viewer",
        "active",
        None,
    )
    assert key["prefix"] and key["prefix"] in created.output
    secret = created.output.split()[-1]
    assert secret not in listed.output
