"""Twilio's wire formats: error bodies, dates, SIDs, segment counts, webhook keywords.

Kept in one place so the simulator's answers can be compared against Twilio's OpenAPI
description (reference/twilio/twilio_api_v2010.json) without reading server code.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import os
import re
import time
import unicodedata
from datetime import UTC, datetime

API_VERSION = "2010-04-01"

# Twilio's messages for the codes the simulator produces, with their HTTP status.
ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20001: (400, "Invalid {field}: {value}"),
    20004: (405, "Method not allowed"),
    20404: (404, "The requested resource {path} was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21212: (
        400,
        "The 'From' number {from_} is not a valid phone number or alphanumeric sender ID.",
    ),
    21602: (400, "Message body is required."),
    21603: (400, "A 'From' phone number is required."),
    21604: (400, "A 'To' phone number is required."),
    21606: (
        400,
        "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio phone "
        "number for this destination.",
    ),
    21609: (400, "The StatusCallback URL {url} is not a valid URL."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21612: (
        400,
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
        "number: {from_} via SMS.",
    ),
    21614: (400, "'To' number {to} is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
    21701: (400, "The Messaging Service Sid {service} is invalid."),
    # the Calls API's
    12100: (400, "Document parse failure"),
    21201: (400, "No 'To' number is specified"),
    21205: (400, "Url parameter is required."),
    21213: (400, "No 'From' number is specified"),
}

# Delivery errors (status callbacks' ErrorCode) and their texts for `error_message`.
DELIVERY_ERRORS: dict[int, str] = {
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}

# What a random failure looks like: Twilio reports carrier-side losses as `undelivered`
# after `sent`, and messages it could not hand to a carrier as `failed` without `sent`.
RANDOM_FAILURES: tuple[tuple[str, int], ...] = (
    ("undelivered", 30003),
    ("undelivered", 30005),
    ("undelivered", 30006),
    ("failed", 30008),
)

FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled"})
STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3}

# Opt-out / opt-in keywords: Twilio's defaults plus the Nordic words our residents write, as an
# account with language-specific opt-out keywords has them. The app keeps the same lists
# (alerting.keywords; a test checks they agree): a phone the provider blocks must be one the app
# has opted out, or the app would keep sending into 21610s.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    | {"STOPP", "AVSLUTT", "AVMELD", "SLUTA", "AFMELD"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP", "STARTE", "STARTA"})


def keyword_kind(body: str) -> str | None:
    """Whether an inbound body is an opt-out ("stop"), an opt-in ("start") or neither (None):
    the whole body, with format characters (Cf), punctuation, case and width (NFKC) ignored."""
    text = "".join(ch for ch in body if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    word = " ".join(text.split()).upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_rfc_cache: tuple[int, str] = (-1, "")


def new_sid(prefix: str = "SM") -> str:
    """A SID shaped like Twilio's: two letters and 32 hex digits."""
    return prefix + os.urandom(16).hex()


def rfc2822(ts: float) -> str:
    """Twilio's `date_*` format ("Thu, 24 Aug 2023 05:01:45 +0000"), cached per second."""
    global _rfc_cache
    second = int(ts)
    cached = _rfc_cache
    if cached[0] == second:
        return cached[1]
    t = time.gmtime(second)
    text = (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )
    _rfc_cache = (second, text)
    return text


def parse_date_filter(value: str) -> tuple[float, bool] | None:
    """A `DateSent` filter value as (Unix time, date only), in the formats Twilio accepts:
    `YYYY-MM-DD`, the SDK's `YYYY-MM-DDTHH:MM:SSZ`, `YYYY-MM-DD HH:MM:SS[.fff]` and RFC 2822
    (`Wed, 19 Jun 2019 22:04:00 -0000`); None when it is none of them. GMT unless an offset
    is given."""
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return day.timestamp(), True
        for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
            with contextlib.suppress(ValueError):
                return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp(), False
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp(), False


def iso_us(us: int) -> str:
    """ISO 8601 UTC with microseconds, from integer microseconds (exact, no float rounding)."""
    seconds, micro = divmod(us, 1_000_000)
    t = time.gmtime(seconds)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
        f"{t.tm_sec:02d}.{micro:06d}+00:00"
    )


def error_body(code: int, **fields: str) -> tuple[int, bytes]:
    """(HTTP status, JSON body) of a Twilio REST error, the shape the SDK turns into
    `TwilioRestException(status, uri, msg, code)`."""
    status, template = ERRORS.get(code, (400, "Simulated error {code}"))
    try:
        message = template.format(code=code, **fields)
    except KeyError:
        message = template
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, json.dumps(body).encode()


# GSM 03.38: the basic set costs one septet, the extension set two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def num_segments(body: str) -> int:
    """Segments Twilio bills for `body`: GSM-7 160/153 septets, else UCS-2 70/67 code units."""
    septets = 0
    for ch in body:
        if ch in GSM7_BASIC:
            septets += 1
        elif ch in GSM7_EXTENDED:
            septets += 2
        else:
            units = len(body.encode("utf-16-le")) // 2
            return 1 if units <= 70 else -(-units // 67)
    return 1 if septets <= 160 else -(-septets // 153)


# Calling-code prefixes to ISO country, for the inbound webhook's FromCountry/ToCountry.
_COUNTRIES = (
    ("+47", "NO"),
    ("+46", "SE"),
    ("+45", "DK"),
    ("+358", "FI"),
    ("+354", "IS"),
    ("+44", "GB"),
    ("+49", "DE"),
    ("+1", "US"),
)


def country_of(number: str) -> str:
    """Best-effort ISO country of an E.164 number ("" when unknown)."""
    for prefix, country in _COUNTRIES:
        if number.startswith(prefix):
            return country
    return ""
