"""The `alerting` command's groups: only our commands (Flask's group would add run, shell, routes
and -e/-A/--debug), each run inside the app, which is built only when a command runs. Nothing
here imports Flask or the database code, so `alerting --help` starts at once."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from alerting.cli_output import Refused, wants_json

JSON_ARGV = "alerting.json-argv"


def with_appcontext(command: Callable) -> Callable:
    """Run `command` in the app context, building the app (or taking the test runner's)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        from flask import current_app

        if not current_app:
            from flask.cli import ScriptInfo

            from alerting import create_app

            ctx = click.get_current_context()
            info = ctx.find_object(ScriptInfo) or ScriptInfo(create_app=create_app)
            ctx.with_resource(info.load_app().app_context())
        return command(*args, **kwargs)

    return run


class Group(click.Group):
    """A group whose commands run in the app context unless `with_appcontext=False`, as
    Flask's AppGroup does, without loading Flask to list them."""

    def command(self, *args: Any, **kwargs: Any) -> Callable:  # type: ignore[override]
        in_app = kwargs.pop("with_appcontext", True)

        def decorate(f: Callable) -> click.Command:
            return super(Group, self).command(*args, **kwargs)(with_appcontext(f) if in_app else f)

        return decorate

    def group(self, *args: Any, **kwargs: Any) -> Callable:  # type: ignore[override]
        kwargs.setdefault("cls", Group)
        return super().group(*args, **kwargs)


class Main(Group):
    """The top group: with --json anywhere on the line, a usage error (a wrong --category, a
    missing option) is JSON too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_ARGV] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if ctx.meta.get(JSON_ARGV) or wants_json():
                raise Refused("invalid usage", exc.format_message(), exit_code=2) from None
            raise
