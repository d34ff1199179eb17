"""The `alerting` command: database, register, areas, staff, keys, simulator, worker, demo."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from alerting import create_app, current
from alerting.areas import AreaError, parse_area
from alerting.db import db


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False)
def main() -> None:
    """Geo-targeted SMS alerts."""


# --- database ----------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from alerting.migrate import upgrade

    upgrade(current_app.extensions["alerting.engine"])
    click.echo("database is up to date")


# --- register ----------------------------------------------------------------------------------


@main.group("residents")
def residents_group() -> None:
    """The resident register."""


@residents_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@with_appcontext
def residents_import(file: Path, as_json: bool) -> None:
    """Import residents from CSV (external_id,name,phone,language,address,lat,lon,label)
    or a GeoJSON FeatureCollection of points with the same properties."""
    from alerting.audit import record
    from alerting.register_import import RegisterFileError, import_file

    settings = current.settings()
    try:
        report = import_file(db(), file, settings.default_region, settings.default_language)
    except RegisterFileError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
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
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    for line, reason in report.refused:
        click.echo(f"{file.name}:{line}: refused: {reason}", err=True)
    click.echo(report.summary())


# --- areas -------------------------------------------------------------------------------------


@main.group("areas")
def areas_group() -> None:
    """Areas and who they reach."""


@areas_group.command("preview")
@click.argument("file", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@with_appcontext
def areas_preview(file, as_json: bool) -> None:
    """Count the residents, reachable phones and opted-out numbers inside FILE (GeoJSON)."""
    try:
        area = parse_area(file.read(), current.settings().max_area_km2)
    except AreaError as exc:
        if as_json:
            click.echo(json.dumps(exc.as_dict(), ensure_ascii=False))
            sys.exit(1)
        raise click.ClickException(str(exc)) from None
    target = current.register().target(area)
    result = {**target.counts, "languages": target.languages, "bbox": list(area.bounds)}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(
        f"{result['residents']} residents, {result['phones']} reachable phones, "
        f"{result['opted_out']} opted out"
    )


# --- staff and keys ----------------------------------------------------------------------------


@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["viewer", "operator", "coordinator", "admin"])
)
@click.option("--password", envvar="ALERTING_NEW_PASSWORD", help="Default: a random one, printed.")
@with_appcontext
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
        raise click.ClickException(str(exc)) from None
    except IntegrityError:
        raise click.ClickException(f"a staff account {email} exists already") from None
    click.echo(f"created {role} {user.email} with password {password}")


@main.group("apikeys")
def apikeys_group() -> None:
    """API keys for machine clients."""


@apikeys_group.command("create")
@click.option("--name", required=True)
@click.option(
    "--role",
    default="coordinator",
    show_default=True,
    type=click.Choice(["viewer", "operator", "coordinator", "admin"]),
)
@with_appcontext
def apikeys_create(name: str, role: str) -> None:
    """Create an API key; it is printed once and stored only hashed."""
    from sqlalchemy.exc import IntegrityError

    from alerting.audit import record
    from alerting.auth import create_api_key

    try:
        _row, key = create_api_key(db(), name, role)
        record(db(), "cli", "apikeys.create", name, role=role)
        db().commit()
    except IntegrityError:
        raise click.ClickException(f"an API key named {name!r} exists already") from None
    click.echo(key)
