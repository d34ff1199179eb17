"""Dates and times in SMS, written the way the recipient's language writes them (Babel, CLDR).

One rule for every text we send: day and short month name, then the time on a 24-hour clock, in
TIMEZONE ("3. des. kl. 08:00" in Norwegian, "3 Dec, 08:00" in English), never the US-style
"12/3, 08:00 AM" a browser picks for a language it does not know. Digits stay ASCII whatever the
locale would use, so a date never turns a GSM-7 text into UCS-2 (which costs twice the parts).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime, format_skeleton

# Babel's (CLDR's) date/time joiner lacks the "kl." these languages write before a time of day
TIME_WORD = {"nb": "kl.", "nn": "kl.", "no": "kl.", "sv": "kl.", "da": "kl."}
# English in Europe writes the day first: the British English data
LOCALE_OF = {"en": "en_GB"}


def sms_locale(lang: str) -> Locale | None:
    """Babel's locale for a language code; None when Babel has no data for it."""
    try:
        return Locale.parse(LOCALE_OF.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return None


def in_zone(value: datetime, zone: ZoneInfo) -> datetime:
    """`value` in `zone`: a naive time is taken as wall-clock time there (the form's inputs)."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def parse_local(text: str, zone: ZoneInfo) -> datetime | None:
    """An ISO time from a form ("2026-12-03T08:00", or with an offset) in `zone`; None when empty.

    Raises ValueError when the text is not such a time."""
    text = (text or "").strip()
    if not text:
        return None
    return in_zone(datetime.fromisoformat(text), zone)


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in text)


def format_sms_datetime(value: datetime, lang: str, zone: ZoneInfo) -> str:
    """`value` as day, month and time for an SMS in `lang` (English's rule when Babel lacks it)."""
    locale = sms_locale(lang) or sms_locale("en")
    local = in_zone(value, zone)
    date = format_skeleton("MMMd", local, locale=locale)
    pattern = locale.time_formats["short"].pattern
    if "h" in pattern or "a" in pattern:  # a 12-hour clock: SMS use 24 hours everywhere
        pattern = "HH:mm"
    time = format_datetime(local, pattern, locale=locale)
    word = TIME_WORD.get(locale.language)
    if word:
        text = f"{date} {word} {time}"
    else:
        text = str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)
    return _ascii_digits(text)
