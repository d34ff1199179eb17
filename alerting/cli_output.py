"""What every `alerting` command that prints a result shares: the --json flag, printing the
result as JSON or as text, and refusals that say what is wrong (with --json as
{"error", "detail"} on standard output), exiting non-zero."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

import click

_JSON = "alerting.json"


def _remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    ctx.meta[_JSON] = value
    return value


def json_option(command: Callable) -> Callable:
    """`--json` on a command: its result (and any refusal) as JSON."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        is_eager=True,
        expose_value=False,
        callback=_remember,
        help='Print the result as JSON; a refusal as {"error", "detail"} (exit status not 0).',
    )(command)


def wants_json() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(_JSON))


def printed_json(result: Any) -> bool:
    """Print `result` as JSON when --json was given (then True: the command is done)."""
    if not wants_json():
        return False
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    return True


def output(result: Any, text: str) -> None:
    """`result` as JSON with --json, else `text`."""
    if not printed_json(result):
        click.echo(text)


class Refused(click.ClickException):
    """A command refused: `error` says what is wrong, `detail` how to fix it; JSON with --json."""

    def __init__(self, error: str, detail: str = "", exit_code: int = 1) -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error, self.detail, self.exit_code = error, detail, exit_code
        self.as_json = wants_json()

    @classmethod
    def of(cls, exc: Exception, where: str = "") -> Refused:
        """From a domain refusal (AlertRefused, AreaError, ...: `error` and `detail`) or any
        exception whose text is meant for people; `where` (a file name) goes in front."""
        prefix = f"{where}: " if where else ""
        if hasattr(exc, "error") and hasattr(exc, "detail"):
            return cls(prefix + exc.error, exc.detail)
        return cls(prefix + str(exc))

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            click.echo(json.dumps({"error": self.error, "detail": self.detail}, ensure_ascii=False))
        else:
            super().show(file)
