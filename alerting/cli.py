"""The `alerting` command: database, register, areas, staff, keys, simulator, worker, demo.

Each command imports what it needs when it runs: `alerting --help` loads neither Flask, the
database code nor the geometry libraries (alerting.cli_app)."""

from __future__ import annotations

import dataclasses
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from alerting.categories import CATEGORIES, RESPONSE_TYPES, SEVERITIES
from alerting.cli_app import Main
from alerting.cli_output import Refused, json_option, output, printed_json

ROLES = ("viewer", "operator", "coordinator", "admin")
# a path, read by the command: an open file would leak when a later option is refused
AREA_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group(cls=Main)
def main() -> None:
    """Geo-targeted SMS alerts."""


def db() -> Any:
    """The command's database session."""
    from alerting.db import db as session

    return session()


def _settings() -> Any:
    from alerting import current

    return current.settings()


def _area(data: bytes, where: str) -> Any:
    """A GeoJSON area from a file, validated like a drawn one; Refused with the reason."""
    from alerting.areas import AreaError, parse_area

    try:
        return parse_area(data, _settings().max_area_km2, _settings().max_area_vertices)
    except AreaError as exc:
        raise Refused.of(exc, where) from None


# --- database ----------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@json_option
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""

    from flask import current_app

    from alerting.migrate import upgrade as migrate

    migrate(current_app.extensions["alerting.engine"])
    output({"database": "up to date"}, "database is up to date")


# --- register ----------------------------------------------------------------------------------


@main.group("residents")
def residents_group() -> None:
    """The resident register."""


@residents_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--delimiter", help="CSV field separator (default: sniffed from the header, , or ;).")
@click.option("--crs", help="Coordinate system of easting/northing columns, e.g. EPSG:25832.")
@click.option(
    "--map",
    "pairs",
    multiple=True,
    metavar="HEADER=COLUMN",
    help="Map a header to our column, e.g. telefon=phone (repeatable).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON file {"header": "column"} mapping the file\'s headers to ours.',
)
@click.option("--allow-outside", is_flag=True, help="Import rows far from the others too.")
@click.option("--allow-refused", is_flag=True, help="Exit 0 even when rows were refused.")
@json_option
def residents_import(
    file: Path,
    delimiter: str | None,
    crs: str | None,
    pairs: tuple[str, ...],
    mapping: Path | None,
    allow_outside: bool,
    allow_refused: bool,
) -> None:
    """Import residents from CSV or .xlsx (external_id,name,phone,language,address,lat,lon,label;
    Norwegian, Swedish and Danish headers are known) or a GeoJSON FeatureCollection of points.
    Exits 1 when rows were refused, unless --allow-refused."""
    from alerting.audit import record
    from alerting.register_formats import mapping_from
    from alerting.register_import import ReadOptions, RegisterFileError, import_file

    try:
        columns = mapping_from(pairs, mapping.read_text("utf-8-sig") if mapping else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map/--mapping") from None
    settings = _settings()
    options = ReadOptions(delimiter, crs, columns, allow_outside, settings.municipality_boundary)
    try:
        report = import_file(
            db(), file, settings.default_region, settings.default_language, options
        )
    except RegisterFileError as exc:
        raise Refused.of(exc, str(file)) from None
    record(
        db(),
        "cli",
        "residents.import",
        file.name,
        imported=report.imported,
        updated=report.updated,
        refused=len(report.refused),
    )
    db().commit()
    if not printed_json(report.as_dict()):
        for line, reason in report.refused:
            click.echo(f"{file.name}:{line}: refused: {reason}", err=True)
        click.echo(report.summary())
    if report.refused and not allow_refused:
        count = len(report.refused)
        click.echo(
            f"{count} row{'s' if count != 1 else ''} refused (--allow-refused to accept)", err=True
        )
        sys.exit(1)


# --- areas -------------------------------------------------------------------------------------


@main.group("areas")
def areas_group() -> None:
    """Areas and who they reach."""


@areas_group.command("preview")
@click.argument("file", type=click.File("rb"))
@json_option
def areas_preview(file) -> None:
    """Count the residents, reachable phones and opted-out numbers inside FILE (GeoJSON)."""
    from alerting import current

    area = _area(file.read(), file.name)
    target = current.register().target(area)
    result = {**target.counts, "languages": target.languages, "bbox": list(area.bounds)}
    output(
        result,
        f"{result['residents']} residents, {result['phones']} reachable phones, "
        f"{result['opted_out']} opted out",
    )


@areas_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", help="The file's coordinate system when it declares none (EPSG:25833).")
@click.option("--name-field", help="Attribute naming the areas (default: first unique text).")
@click.option("--library", help="Library of the areas (default: the file's name, if several).")
@click.option("--replace", is_flag=True, help="Update saved areas of the same name (a version).")
@json_option
def areas_import(file: Path, crs, name_field, library, replace: bool) -> None:
    """Save the areas of a GIS file (GeoJSON, zipped Shapefile, GeoPackage, KML/KMZ): one per
    feature, reprojected to WGS84. Exits 1 when a feature was refused."""
    from alerting.area_files import save_areas
    from alerting.areas import AreaError
    from alerting.auth import Principal

    settings = _settings()
    try:
        report = save_areas(
            db(),
            Principal("cli", "admin"),
            file.read_bytes(),
            file.name,
            crs=crs,
            name_by=name_field,
            library=library,
            replace=replace,
            max_area_km2=settings.max_area_km2,
            max_vertices=settings.max_area_vertices,
        )
    except AreaError as exc:
        raise Refused.of(exc, str(file)) from None
    db().commit()
    if not printed_json(report.as_dict()):
        for number, name, reason in report.refused:
            click.echo(f"{file.name}: feature {number} {name}: refused: {reason}", err=True)
        click.echo(report.summary())
    if report.refused:
        sys.exit(1)


# --- staff and keys ----------------------------------------------------------------------------


@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password", envvar="ALERTING_NEW_PASSWORD", help="Default: a random one, printed.")
@json_option
def users_create(email: str, role: str, password: str | None) -> None:
    """Create a staff account."""
    from sqlalchemy.exc import IntegrityError

    from alerting.audit import record
    from alerting.auth import create_staff_user

    password = password or secrets.token_urlsafe(12)
    try:
        user = create_staff_user(db(), email, role, password)
        record(db(), "cli", "users.create", user.email, role=role)
        db().commit()
    except ValueError as exc:
        raise Refused.of(exc) from None
    except IntegrityError:
        raise Refused("account exists", f"a staff account {email} exists already") from None
    output(
        {"id": user.id, "email": user.email, "role": role, "password": password},
        f"created {role} {user.email} with password {password}",
    )


@main.group("apikeys")
def apikeys_group() -> None:
    """API keys for machine clients."""


@apikeys_group.command("create")
@click.option("--name", required=True)
@click.option(
    "--role",
    default="operator",
    show_default=True,
    type=click.Choice(ROLES),
)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="Last day (UTC) it works.")
@json_option
def apikeys_create(name: str, role: str, expires) -> None:
    """Create an API key; it is printed once and stored only hashed."""
    from sqlalchemy.exc import IntegrityError

    from alerting.audit import record
    from alerting.auth import create_api_key, end_of_day

    try:
        row, key = create_api_key(db(), name, role, "cli", end_of_day(expires))
        record(db(), "cli", "apikeys.create", name, role=role)
        db().commit()
    except IntegrityError:
        raise Refused("key exists", f"an API key named {name!r} exists already") from None
    output(
        {
            "id": row.id,
            "name": name,
            "role": role,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "key": key,
        },
        key,
    )


@apikeys_group.command("list")
@json_option
def apikeys_list() -> None:
    """Every key: id, name, role, prefix, state, expiry and last use (never the key itself)."""
    from sqlalchemy import select

    from alerting.auth import api_key_state
    from alerting.models import ApiKey

    keys = db().scalars(select(ApiKey).order_by(ApiKey.id)).all()
    rows = [
        {
            "id": key.id,
            "name": key.name,
            "role": key.role,
            "prefix": key.prefix,
            "state": api_key_state(key),
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        }
        for key in keys
    ]
    if printed_json({"keys": rows}):
        return
    for key in keys:
        expires = key.expires_at.strftime("%Y-%m-%d %H:%M") if key.expires_at else "never"
        used = key.last_used_at.strftime("%Y-%m-%d %H:%M") if key.last_used_at else "never"
        click.echo(
            f"{key.id}\t{key.name}\t{key.role}\t{key.prefix}…\t{api_key_state(key)}"
            f"\texpires {expires}\tlast used {used}"
        )


@apikeys_group.command("revoke")
@click.argument("key_id", type=int)
@json_option
def apikeys_revoke(key_id: int) -> None:
    """Revoke a key at once (see `apikeys list` for the id)."""
    from alerting.audit import record
    from alerting.models import ApiKey

    key = db().get(ApiKey, key_id)
    if key is None:
        raise Refused("not found", f"there is no API key {key_id}; see `alerting apikeys list`")
    key.revoked = True
    record(db(), "cli", "apikeys.revoke", key.name)
    db().commit()
    output({"id": key.id, "name": key.name, "state": "revoked"}, f"revoked {key.name}")


# --- alerts, worker, simulator, demo -----------------------------------------------------------


@main.group("alerts")
def alerts_group() -> None:
    """Send and inspect alerts."""


def _language_texts(args: list[str]) -> dict[str, str]:
    """`--message-en TEXT` / `--message-en=TEXT` pairs from the extra arguments."""
    texts: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--message-"):
            raise click.UsageError(f"unexpected argument {arg!r}")
        name, sep, value = arg[len("--message-") :].partition("=")
        if not sep:
            if i + 1 >= len(args):
                raise click.UsageError(f"{arg} needs a text")
            value = args[i + 1]
            i += 1
        texts[name] = value
        i += 1
    return texts


_LOCAL_HELP = "ISO 8601; without an offset (2027-01-01T10:00) it is in TIMEZONE."


def _local_time(option: str, value: str):
    """A time typed on the command line as naive UTC; without an offset it is TIMEZONE's."""
    from datetime import datetime

    from alerting.timefmt import to_utc

    if not value:
        return None
    try:
        return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise Refused(f"invalid {option}", f"{value!r} is not ISO 8601") from None
    except OverflowError:
        raise Refused(f"invalid {option}", f"{value!r} is outside the years 1 to 9999") from None


@alerts_group.command(
    "send", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option(
    "--area",
    "area_file",
    required=True,
    type=AREA_FILE,
    help="GeoJSON area (Polygon, Feature, FeatureCollection, circle).",
)
@click.option("--category", required=True, type=click.Choice(CATEGORIES))
@click.option("--severity", required=True, type=click.Choice(SEVERITIES))
@click.option(
    "--message",
    required=True,
    help="Default text, for residents whose language has no text of its own. Add --message-xx "
    "TEXT for each language, xx its ISO 639 code (nb, nn, sv, da, en, ...): --message-sv 'Vattnet "
    "stängs'.",
)
@click.option("--title", default="", help="Default: the start of the message.")
@click.option("--send-at", default="", help=f"When to send (default: now). {_LOCAL_HELP}")
@click.option("--onset", default="", help=f"In force from (default: when sent). {_LOCAL_HELP}")
@click.option(
    "--expires",
    default="",
    help="In force until (required for evacuation, fire, flood and gas; otherwise a default per "
    f"category). {_LOCAL_HELP}",
)
@click.option("--response-type", default=None, type=click.Choice(RESPONSE_TYPES))
@json_option
@click.pass_context
def alerts_send(
    ctx,
    area_file,
    category,
    severity,
    message,
    title,
    send_at,
    onset,
    expires,
    response_type,
) -> None:
    """Send an alert to everyone inside an area (as the `cli` admin). Texts per language:
    --message-xx TEXT (see --message)."""
    from alerting.alerts import AlertRefused, create_alert
    from alerting.auth import Principal

    texts = {"default": message, **_language_texts(ctx.args)}
    times = {
        "send_at": _local_time("--send-at", send_at),
        "onset": _local_time("--onset", onset),
        "expires": _local_time("--expires", expires),
    }
    try:
        area = json.loads(area_file.read_bytes())
    except ValueError as exc:
        raise Refused(f"{area_file.name}: invalid JSON", str(exc)) from None
    try:
        alert = create_alert(
            db(),
            Principal("cli", "admin"),
            area=area,
            category=category,
            severity=severity,
            title=title or message[:60],
            texts=texts,
            response_type=response_type,
            **times,
        )
    except AlertRefused as exc:
        raise Refused.of(exc) from None
    output(
        {"id": alert.id, "status": alert.status, "recipients": alert.recipients},
        f"alert {alert.id} {alert.status}: {alert.recipients} recipients, "
        f"{alert.skipped} opted out (`alerting alerts show {alert.id}` follows it)",
    )


@alerts_group.command("show")
@click.argument("alert_id", type=int)
@json_option
def alerts_show(alert_id: int) -> None:
    """Status of an alert and its messages per status."""
    from alerting.alerts import AlertRefused, alert_summary

    try:
        summary = alert_summary(db(), alert_id)
    except AlertRefused as exc:
        raise Refused.of(exc) from None
    if printed_json(summary):
        return
    click.echo(
        f"alert {summary['id']} [{summary['category']}/{summary['severity']}] "
        f"{summary['title']!r}: {summary['status']}, {summary['recipients']} recipients, "
        f"{summary['skipped']} skipped"
    )
    if summary["expires"]:
        from alerting.models import Alert
        from alerting.timefmt import local_time

        alert = db().get(Alert, alert_id)
        click.echo(
            f"  in force: {local_time(alert.onset, False)} – {local_time(alert.expires)}, "
            f"on /public: {summary['public_status'] or 'no'}"
        )
    counts = ", ".join(f"{k} {v}" for k, v in summary["counts"].items() if v)
    click.echo(f"  messages: {counts or 'none yet'}")


@alerts_group.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@json_option
def alerts_list(limit: int) -> None:
    """The latest alerts, newest first (with --json as GET /api/v1/alerts answers)."""
    from sqlalchemy import select

    from alerting.alerts import alert_summary
    from alerting.models import Alert

    ids = db().scalars(select(Alert.id).order_by(Alert.id.desc()).limit(limit)).all()
    summaries = [alert_summary(db(), i) for i in ids]
    if printed_json({"alerts": summaries}):
        return
    for s in summaries:
        click.echo(
            f"{s['id']:>6} {s['status']:<16} {s['category']}/{s['severity']:<9} "
            f"{s['recipients']:>7} recipients  {s['title']}"
        )
    if not summaries:
        click.echo("no alerts yet")


@alerts_group.command("cancel")
@click.argument("alert_id", type=int)
@json_option
def alerts_cancel(alert_id: int) -> None:
    """Cancel an alert: stop its messages not yet handed to the provider (as the `cli` admin);
    with --json its summary, as the API answers."""
    from alerting.alerts import AlertRefused, alert_summary, cancel_alert
    from alerting.auth import Principal

    try:
        cancel_alert(db(), Principal("cli", "admin"), alert_id)
    except AlertRefused as exc:
        raise Refused.of(exc) from None
    summary = alert_summary(db(), alert_id)
    stopped = summary["counts"].get("cancelled", 0)
    output(summary, f"alert {alert_id} cancelled: {stopped} messages stopped")


@main.command("drill")
@click.option("--area", "area_file", required=True, type=AREA_FILE, help="GeoJSON area.")
@click.option("--category", default="evacuation", show_default=True, type=click.Choice(CATEGORIES))
@click.option("--rate", type=float, help="Messages per second (default: SMS_RATE_PER_SECOND).")
@json_option
def drill_command(area_file: Path, category: str, rate: float | None) -> None:
    """A full-size exercise against an in-process simulator (never a real SMS, whatever
    SMS_PROVIDER says): everyone in the area, at the configured rate; prints how long it took."""
    from alerting.drill import run_drill

    if rate is not None and rate <= 0:
        raise click.BadParameter("give a positive number per second", param_hint="--rate")
    area = _area(area_file.read_bytes(), area_file.name)
    report = run_drill(db(), area, category=category, rate=rate)
    if printed_json(report.as_dict()):
        return
    click.echo(
        f"drill: {report.recipients} recipients ({report.opted_out} opted out"
        f"{f', {report.held} held by quiet hours' if report.held else ''}); "
        f"{report.accepted} accepted, {report.refused} refused; last accepted after "
        f"{report.seconds:.1f} s at {report.rate:g}/s ({report.achieved:.1f}/s achieved)"
    )


@main.command("worker", with_appcontext=False)
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit.")
def worker_command(burst: bool) -> None:
    """Run one RQ worker (same as `python worker.py`)."""
    from alerting.worker import main as worker_main

    worker_main(burst=burst)


@main.command("simulator", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=int)
def simulator_command(host: str, port: int) -> None:
    """Run the Twilio-compatible SMS simulator (options: SIM_* environment variables)."""
    import os

    from alerting.simulator import SimulatorConfig, serve

    config = SimulatorConfig.from_env()
    public = os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    if config.inbound_url is None:
        config = config.updated({"inbound_url": f"{public}/webhooks/twilio/inbound"})
    if config.vonage_inbound_url is None:
        config = config.updated({"vonage_inbound_url": f"{public}/webhooks/vonage/inbound"})
    serve(host, port, config)


@main.command("demo", with_appcontext=False)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--residents", default=30_000, show_default=True, type=int)
@click.option(
    "--log-requests", is_flag=True, help="Log every HTTP request (off: the login stays in view)."
)
def demo_command(port: int, residents: int, log_requests: bool) -> None:
    """Seed a demo register and run the app, a worker and the SMS simulator together."""
    from alerting.demo.run import run

    run(port, residents, log_requests)


@main.group("dev")
def dev_group() -> None:
    """For working on alerting itself."""


@dev_group.command(
    "test",
    with_appcontext=False,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def dev_test(pytest_args: tuple[str, ...]) -> None:
    """Run the test suite with PYTEST_ARGS (e.g. tests/test_x.py -x), installing Debian's
    chromium for the browser tests first when it is missing (with apt-get, as root; otherwise
    it says what to install). Exits with pytest's code."""
    from alerting.devtest import run

    sys.exit(run(pytest_args, click.echo))


@main.group("cap")
def cap_group() -> None:
    """CAP 1.2 documents from other systems."""


@cap_group.command("import")
@click.argument("file", type=click.File("rb"))
@json_option
def cap_import(file) -> None:
    """Take a CAP 1.2 document (as the `cli` admin): an Alert becomes a draft, an Update
    revises the alert it references, a Cancel cancels it."""
    from alerting.auth import Principal
    from alerting.cap.ingest import CapRefused, read
    from alerting.cap.receive import apply

    try:
        incoming = read(file.read(), _settings().default_language)
        alert, done = apply(db(), Principal("cli", "admin"), incoming)
    except CapRefused as exc:
        raise Refused.of(exc, file.name) from None
    output(
        {
            "msg_type": incoming.msg_type,
            "identifier": incoming.identifier,
            "done": done,
            "id": alert.id,
            "status": alert.status,
        },
        f"{incoming.msg_type} {incoming.identifier}: {done} alert {alert.id} ({alert.status})",
    )


@main.group("triggers")
def triggers_group() -> None:
    """Triggers that sensors and other systems fire with a signed call."""


@triggers_group.command("create")
@click.option("--name", required=True, help="lower-case letters, digits, - and _")
@click.option("--area-id", type=int, required=True, help="the saved area it alerts")
@click.option("--template", "template_key", default="", help="start from a message template")
@click.option("--category", type=click.Choice(CATEGORIES), help="default: the template's")
@click.option("--severity", type=click.Choice(SEVERITIES), help="default: the template's")
@click.option("--title", default="", help="default: the template's, in DEFAULT_LANGUAGE")
@click.option("--text", "texts", multiple=True, help="LANG=TEXT (or default=TEXT), {placeholders}")
@click.option("--auto-send", is_flag=True, help="send at once (default: a draft for a person)")
@click.option("--life-safety-auto-send", is_flag=True, help="allow --auto-send for life safety")
@click.option("--dedup-minutes", type=int, default=60, show_default=True)
@json_option
def triggers_create(name, area_id, template_key, category, severity, title, texts, **flags) -> None:
    """Make a trigger (as the `cli` admin); prints its secret once."""
    from alerting.auth import Principal
    from alerting.templates_text import TEMPLATES
    from alerting.triggers import create_trigger

    language = _settings().default_language
    given = dict(t.split("=", 1) for t in texts if "=" in t)
    if template_key:
        template = TEMPLATES.get(template_key)
        if template is None:
            raise Refused(
                "unknown template", f"{template_key!r}; choose one of {', '.join(TEMPLATES)}"
            )
        given = {**template.texts, "default": template.texts.get(language, ""), **given}
        category, severity = category or template.category, severity or template.severity
        title = title or template.titles.get(language, "")
    try:
        trigger, secret = create_trigger(
            db(),
            Principal("cli", "admin"),
            name=name,
            area_id=area_id,
            category=category or "",
            severity=severity or "",
            title=title or name,
            texts=given,
            **flags,
        )
    except ValueError as exc:
        raise Refused.of(exc) from None
    mode = "sends at once" if trigger.auto_send else "makes a draft"
    output(
        _trigger_fields(trigger) | {"secret": secret},
        f"trigger {trigger.name} ({trigger.category}, {mode})\nsecret (shown once): {secret}",
    )


def _trigger_fields(trigger: Any) -> dict[str, Any]:
    return {
        "id": trigger.id,
        "name": trigger.name,
        "area_id": trigger.area_id,
        "category": trigger.category,
        "severity": trigger.severity,
        "auto_send": trigger.auto_send,
        "dedup_minutes": trigger.dedup_minutes,
        "active": trigger.active,
    }


@triggers_group.command("list")
@json_option
def triggers_list() -> None:
    """Every trigger: its area, category, whether it sends at once, its dedup window."""
    from sqlalchemy import select

    from alerting.models import Trigger

    triggers = db().scalars(select(Trigger).order_by(Trigger.name)).all()
    if printed_json({"triggers": [_trigger_fields(t) for t in triggers]}):
        return
    for t in triggers:
        mode = "sends at once" if t.auto_send else "makes a draft"
        click.echo(
            f"{t.name}\tarea {t.area_id}\t{t.category}/{t.severity}\t{mode}\t"
            f"dedup {t.dedup_minutes} min"
        )


@main.group("feeds")
def feeds_group() -> None:
    """CAP feeds of other systems (MetAlerts, neighbours)."""


@feeds_group.command("watch")
@click.argument("url")
@click.option("--boundary", default="", help="saved area to cut to (default: CAP_FEED_BOUNDARY)")
@json_option
def feeds_watch(url: str, boundary: str) -> None:
    """Read a CAP feed (Atom, or one CAP document) once: new alerts that meet the boundary
    become drafts; their Updates and Cancels are followed."""
    from alerting.cap.feeds import watch
    from alerting.cap.ingest import CapRefused

    settings = _settings()
    try:
        report = watch(db(), url, boundary or settings.cap_feed_boundary, settings.default_language)
    except (CapRefused, OSError) as exc:
        raise Refused.of(exc, url) from None
    if not printed_json(dataclasses.asdict(report)):
        click.echo(
            f"{len(report.drafts)} new drafts {report.drafts}, {len(report.followed)} updated or "
            f"cancelled, {report.outside} outside the boundary, {report.seen} seen before"
        )
        for line in report.refused:
            click.echo(f"refused: {line}", err=True)
    if report.refused:
        sys.exit(1)
