"""Times as staff see and enter them: in TIMEZONE, with the zone named.

The database keeps naive UTC; every page shows a time through `local_time` (the Jinja filter
`local_time`), and every time a person types without an offset (the compose form, the CLI) is
read by `to_utc` as TIMEZONE, the zone residents' quiet hours are in too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from flask import Flask, has_request_context
from flask_babel import get_locale

from alerting import current


def zone() -> ZoneInfo:
    return ZoneInfo(current.settings().timezone)


def zone_name() -> str:
    return current.settings().timezone


def to_utc(value: datetime) -> datetime:
    """A typed time as naive UTC; without an offset it is TIMEZONE's wall clock.
    OverflowError when it is not a time in the years 1 to 9999 in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone())
    return value.astimezone(UTC).replace(tzinfo=None)


def _pattern(locale: Locale) -> str:
    """The locale's medium date with a 24-hour time: "3. des. 2026, 08:00", "Dec 3, 2026, 08:00"
    (a month name, so 3 December is never read as 12 March)."""
    date = locale.date_formats["medium"].pattern
    return str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", "HH:mm")


def local_time(value: datetime | None, with_zone: bool = True) -> str:
    """A stored (naive UTC) time in TIMEZONE, in the interface language, zone named."""
    if value is None:
        return ""
    # the interface language on a page; English on the command line
    locale = Locale.parse(str(get_locale() or "en") if has_request_context() else "en")
    text = format_datetime(value.replace(tzinfo=UTC), _pattern(locale), zone(), locale)
    return f"{text} ({zone_name()})" if with_zone else text


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.context_processor(lambda: {"timezone_name": zone_name()})
