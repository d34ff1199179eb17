"""SMS keywords: which replies opt out, opt back in or ask for help, and what we answer.

Residents here write STOPP, Stopp., AVSLUTT, SLUTA or AFMELD as often as STOP, from phones that
add full-width letters or invisible zero-width characters; a STOP we fail to recognise is a
person we keep texting against their will. So a reply is normalised before it is compared:
format characters (Unicode Cf) dropped, NFKC, punctuation dropped, spaces collapsed, upper case.
Only the whole reply counts: "please stop the water works" is a reply, not an opt-out.
The simulator keeps its own copy of these lists (it imports nothing from the app); a test checks
that the two agree.
"""

from __future__ import annotations

import unicodedata

STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    | {"STOPP", "AVSLUTT", "AVMELD", "SLUTA", "AFMELD"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP", "STARTE", "STARTA"})
HELP_WORDS = frozenset({"HELP", "INFO", "HJELP", "HJÄLP", "HJÆLP"})

# what we answer, by the resident's language; English when we have no text in theirs
REPLIES: dict[str, dict[str, str]] = {
    "help": {
        "en": "Municipal SMS alerts for your registered places. Reply STOP to stop all alerts, "
        "START to get them again.",
        "nb": "SMS-varsler fra kommunen for stedene du har registrert. Svar STOPP for å stoppe "
        "alle varsler, START for å få dem igjen.",
        "sv": "SMS-varningar från kommunen för platserna du har registrerat. Svara STOPP för att "
        "stoppa alla varningar, START för att få dem igen.",
        "da": "SMS-varsler fra kommunen for de steder, du har registreret. Svar STOP for at "
        "stoppe alle varsler, START for at få dem igen.",
    },
    "stop": {
        "en": "You will get no more alerts. Reply START to get them again.",
        "nb": "Du får ingen flere varsler. Svar START for å få dem igjen.",
        "sv": "Du får inga fler varningar. Svara START för att få dem igen.",
        "da": "Du får ikke flere varsler. Svar START for at få dem igen.",
    },
    "start": {
        "en": "You will get alerts again. Reply STOP to stop them.",
        "nb": "Du får varsler igjen. Svar STOPP for å stoppe dem.",
        "sv": "Du får varningar igen. Svara STOPP för att stoppa dem.",
        "da": "Du får varsler igen. Svar STOP for at stoppe dem.",
    },
}


def normalise(body: str) -> str:
    """'\\u200bＳtopp !' -> 'STOPP'. Cf characters go first so NFKC can compose what they split."""
    text = "".join(ch for ch in body if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(text.split()).upper()


def classify(body: str) -> str:
    """stop | start | help | reply."""
    word = normalise(body)
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "reply"


def reply_text(kind: str, language: str, default_language: str) -> str:
    """The answer to a keyword in `language`, else `default_language`, else English."""
    texts = REPLIES[kind]
    return texts.get(language) or texts.get(default_language) or texts["en"]
