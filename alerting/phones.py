"""Phone numbers: normalise to E.164, tell mobiles from fixed lines, mask for logs."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from alerting.phone_fast_path import fast_number

_SMS_CAPABLE = {
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.PAGER,
    PhoneNumberType.UNKNOWN,
}


class PhoneError(ValueError):
    """A number that cannot be used, with a reason a person can act on."""


@dataclass(frozen=True)
class Phone:
    e164: str
    mobile: bool  # False for fixed lines, which cannot receive SMS


def parse_phone(raw: str, region: str = "NO") -> Phone:
    """Parse '+47 912 34 567', '91234567', '0047 91234567', '(+47) 91 23 45 67' to one number."""
    parsed = _parsed((raw or "").strip(), region)
    if isinstance(parsed, str):
        raise PhoneError(parsed)
    return parsed


# a register repeats its phones (households) and a re-import repeats them all: remember the
# answer per written form; bounded, so a large import's memory stays flat
@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str, region: str) -> Phone | str:
    """The number, or why it is not one (an exception is not cached)."""
    if not text:
        return "missing phone number"
    fast = fast_number(text, region)
    if fast is not None:
        return Phone(e164=fast[0], mobile=fast[1] in _SMS_CAPABLE)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        return f"not a phone number: {text!r} ({exc})"
    if not phonenumbers.is_valid_number(number):
        return f"not a valid phone number: {text!r}"
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, mobile=phonenumbers.number_type(number) in _SMS_CAPABLE)


def mask(phone: str | None) -> str:
    """'+4791234567' -> '+47•••••567': enough to tell numbers apart in logs, not to dial them."""
    if not phone:
        return ""
    if len(phone) <= 6:
        return "•" * len(phone)
    return phone[:3] + "•" * (len(phone) - 6) + phone[-3:]
