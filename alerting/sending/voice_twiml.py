"""What a call says: the alert text spoken twice in the recipient's language with one of Twilio's
voices, inside a `<Gather>` so that pressing 1 at any moment confirms it was heard.

A language Twilio has no voice for is never read out by another language's voice: planning gives
such a resident the default text (`voiced`), spoken in DEFAULT_LANGUAGE's voice (`voice_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Voice:
    language: str  # Twilio's <Say language=...>
    voice: str  # an Amazon Polly voice Twilio offers for it
    prompt: str  # "press 1 to confirm", in that language
    thanks: str  # said after the key press


VOICES: dict[str, Voice] = {
    "nb": Voice(
        "nb-NO",
        "Polly.Liv",
        "Trykk 1 for å bekrefte at du har hørt denne meldingen.",
        "Takk. Du har bekreftet meldingen.",
    ),
    "sv": Voice(
        "sv-SE",
        "Polly.Astrid",
        "Tryck 1 för att bekräfta att du har hört det här meddelandet.",
        "Tack. Du har bekräftat meddelandet.",
    ),
    "da": Voice(
        "da-DK",
        "Polly.Naja",
        "Tryk 1 for at bekræfte, at du har hørt denne besked.",
        "Tak. Du har bekræftet beskeden.",
    ),
    "en": Voice(
        "en-GB",
        "Polly.Amy",
        "Press 1 to confirm you heard this message.",
        "Thank you. You have confirmed the message.",
    ),
    "fi": Voice(
        "fi-FI",
        "Polly.Suvi",
        "Paina 1 vahvistaaksesi, että kuulit tämän viestin.",
        "Kiitos. Olet vahvistanut viestin.",
    ),
    "de": Voice(
        "de-DE",
        "Polly.Vicki",
        "Drücken Sie die 1, um zu bestätigen, dass Sie diese Nachricht gehört haben.",
        "Danke. Sie haben die Nachricht bestätigt.",
    ),
    "pl": Voice(
        "pl-PL",
        "Polly.Ewa",
        "Naciśnij 1, aby potwierdzić, że wysłuchano tej wiadomości.",
        "Dziękujemy. Wiadomość została potwierdzona.",
    ),
}
FALLBACK = "en"  # when DEFAULT_LANGUAGE itself has no voice
WORDS_PER_MINUTE = 150  # a calm reading pace, for the compose form's estimate
GATHER_TIMEOUT_S = 8  # after the last word, how long a key press is waited for


def voiced(texts: dict[str, str]) -> dict[str, str]:
    """The texts a call can speak: those in a language with a voice, and the default."""
    return {lang: text for lang, text in texts.items() if lang == "default" or lang in VOICES}


def voice_for(language: str, default_language: str) -> Voice:
    """The voice of a message in `language` ("default": the default text's language)."""
    if language == "default":
        language = default_language
    return VOICES.get(language) or VOICES.get(default_language) or VOICES[FALLBACK]


def spoken_texts(texts: dict[str, str], spoken: dict[str, str] | None) -> dict[str, str]:
    """What calls say per language: the spoken text where one was given, else the SMS text."""
    return {**texts, **(spoken or {})}


def _say(voice: Voice, text: str) -> str:
    return (
        f"<Say language={quoteattr(voice.language)} voice={quoteattr(voice.voice)}>"
        f"{escape(text)}</Say>"
    )


def call_twiml(text: str, voice: Voice, gather_url: str) -> str:
    """The TwiML of one call: the text twice, then the prompt, all inside one `<Gather>`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Gather numDigits="1" timeout="{GATHER_TIMEOUT_S}" method="POST" '
        f"action={quoteattr(gather_url)}>"
        f'{_say(voice, text)}<Pause length="1"/>{_say(voice, text)}{_say(voice, voice.prompt)}'
        "</Gather></Response>"
    )


def thanks_twiml(voice: Voice, confirmed: bool) -> str:
    """The answer to a key press: thanks and hang up (any other key: just hang up)."""
    said = _say(voice, voice.thanks) if confirmed else ""
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{said}<Hangup/></Response>'


def estimated_seconds(text: str) -> int:
    """How long a call takes to say `text` twice and the prompt, at WORDS_PER_MINUTE."""
    words = 2 * len(text.split()) + 10
    return math.ceil(words * 60 / WORDS_PER_MINUTE) + 1
