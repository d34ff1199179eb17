"""Twilio's Smart Encoding, as a Messaging Service applies it (on by default for new services):
look-alike Unicode punctuation becomes its GSM-7 twin before the message is stored, so the body
Twilio returns is not always the body that was sent. From Twilio's published character list
(docs/messaging/services/smart-encoding-char-list): quotes, apostrophes, dashes, spaces, ellipsis.
"""

from __future__ import annotations

_SAME = {
    '"': "«»“”ʺˮ‟❝❞〝〞＂",
    "'": "‘’ʻˈʼʽʹ‛＇´ˊ`ˋ❛❜",
    "-": "‐‑‒–—―⁻₋−﹣－",
    " ": "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000",
    ",": "‚，",
    "/": "⁄∕／",
}
TABLE = str.maketrans(
    {char: twin for twin, chars in _SAME.items() for char in chars}
    | {"…": "...", "‼": "!!", "\u200b": "", "\ufeff": ""}
)


def smart_encoded(body: str) -> str:
    return body.translate(TABLE)
