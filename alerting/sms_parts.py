"""How many SMS parts a text costs: GSM-7 160/153 characters, UCS-2 70/67 code units.

`alerting/static/sms_parts.js` mirrors this for the live counter in the compose form; keep them
in step (tests/test_sms_parts.py and the browser tests check both against the same examples).
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (the characters that cost one septet)
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# the extension table: each costs an escape septet plus itself
GSM7_EXTENDED = frozenset("^{}[]~|€\\\f")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SmsParts:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int
    per_part: int  # capacity of each part at this length

    @property
    def remaining(self) -> int:
        """Units left in the last part before one more part is needed."""
        return self.parts * self.per_part - self.units if self.parts else self.per_part


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def count_parts(text: str) -> SmsParts:
    """Encoding, length in units and number of parts of `text` sent as one (concatenated) SMS."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = GSM7_SINGLE, GSM7_MULTI, "GSM-7"
    else:
        # UCS-2 on the wire is UTF-16: characters outside the BMP (emoji) take two units
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = UCS2_SINGLE, UCS2_MULTI, "UCS-2"
    if units == 0:
        return SmsParts(encoding, 0, 0, single)
    if units <= single:
        return SmsParts(encoding, units, 1, single)
    return SmsParts(encoding, units, -(-units // multi), multi)
