"""The `alerting` command as a person meets it: its help, and alerts listed and cancelled."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from sqlalchemy import select
from stack import add_resident

from alerting.alerts import create_alert
from alerting.auth import Principal
from alerting.models import CATEGORIES, SEVERITIES, AuditEvent, Message
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
    assert f"--category [{'|'.join(CATEGORIES)}]" in helptext
    assert f"--severity [{'|'.join(SEVERITIES)}]" in helptext
    assert "--message-xx TEXT for each language" in helptext and "nb, nn, sv, da" in helptext
    drill = " ".join(cli("drill", "--help").output.split())
    assert f"--category [{'|'.join(CATEGORIES)}]" in drill


def test_an_unknown_category_is_refused_with_the_choices(cli, tmp_path) -> None:
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA))
    args = ["alerts", "send", "--area", area, "--category", "storm", "--severity", "minor"]
    result = cli(*args, "--message", "x")
    assert result.exit_code == 2 and "'storm' is not one of 'water', 'evacuation'" in result.output
    as_json = cli(*args, "--message", "x", "--json")
    assert as_json.exit_code == 2
    refusal = json.loads(as_json.output)
    assert refusal["error"] == "invalid usage" and "'storm' is not one of" in refusal["detail"]


def test_listing_the_commands_loads_no_flask_database_or_geometry_code() -> None:
    """What made `alerting --help` take over a second (BENCHMARKS.md has the figure)."""
    probe = (
        "import sys\n"
        "from alerting.cli import main\n"
        "main(['--help'], standalone_mode=False)\n"
        "print(sorted({'flask', 'sqlalchemy', 'shapely', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


# long-running servers and the test runner print no result
NO_RESULT = {("worker",), ("simulator",), ("demo",), ("dev", "test")}


def test_every_command_that_prints_a_result_offers_json(cli) -> None:
    from alerting.cli import main

    for path, command in _commands(main):
        if path in NO_RESULT:
            continue
        assert "--json" in cli(*path, "--help").output, " ".join(path)
        assert any(p.name == "as_json" for p in command.params), " ".join(path)


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
    assert again.exit_code == 1
    assert json.loads(again.output) == {
        "error": "alert is cancelled",
        "detail": "there is nothing left to cancel",
    }
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


def test_alerts_cancel_json_is_the_alert_as_the_api_shows_it(app, session, cli, client, api_key):
    alert_id = _planned_alert(app, session, "Vann")
    result = cli("alerts", "cancel", alert_id, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["status"] == "cancelled" and summary["counts"]["cancelled"] == 1
    api = client.get(f"/api/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {api_key}"})
    assert summary == api.json


def test_alerts_send_json_carries_the_new_alert_and_refusals(app, session, cli, tmp_path) -> None:
    add_resident(session, "+4790000001", 5.32, 60.39)
    session.commit()
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(AREA))
    base = ["alerts", "send", "--area", area, "--category", "water", "--severity", "minor"]
    sent = cli(*base, "--message", "Vannet stenges", "--message-sv", "Vattnet stängs", "--json")
    assert sent.exit_code == 0, sent.output
    answer = json.loads(sent.output)
    assert answer["recipients"] == 1 and answer["status"] in ("scheduled", "sending")
    shown = json.loads(cli("alerts", "show", answer["id"], "--json").output)
    assert shown["texts"] == {"default": "Vannet stenges", "sv": "Vattnet stängs"}
    late = cli(*base, "--message", "x", "--send-at", "2001-01-01T10:00", "--json")
    assert late.exit_code == 1
    assert json.loads(late.output)["error"] == "send_at is in the past"


def test_keys_triggers_and_schema_answer_json(cli) -> None:
    upgraded = cli("db", "upgrade", "--json")
    assert upgraded.exit_code == 0 and json.loads(upgraded.output) == {"database": "up to date"}
    created = json.loads(cli("apikeys", "create", "--name", "feed", "--json").output)
    assert created["role"] == "operator" and created["key"]
    revoked = json.loads(cli("apikeys", "revoke", created["id"], "--json").output)
    assert revoked == {"id": created["id"], "name": "feed", "state": "revoked"}
    missing = cli("apikeys", "revoke", 999, "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)["error"] == "not found"
    assert json.loads(cli("triggers", "list", "--json").output) == {"triggers": []}
    user = json.loads(
        cli("users", "create", "--email", "a@b.no", "--role", "viewer", "--json").output
    )
    assert user["email"] == "a@b.no" and len(user["password"]) >= 10
