"""Message templates staff start from: water shutoff, boil-water notice, evacuation, all clear.

Placeholders: {area}, {start}, {end}; a part in [brackets] is left out when a placeholder in it is
empty ("[ to {end}]" without an end time). Texts are filled here, on the server, with dates in the
reader's language (`alerting.sms_dates`); the compose page asks for them (staff/texts.py). A
language a template has no text for gets no text of its own, so its residents get the alert's
default text (never English by accident); the default box takes the template in DEFAULT_LANGUAGE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from alerting.sms_dates import format_sms_datetime


@dataclass(frozen=True)
class MessageTemplate:
    key: str
    category: str
    severity: str
    titles: dict[str, str]
    texts: dict[str, str]


TEMPLATES: dict[str, MessageTemplate] = {
    t.key: t
    for t in (
        MessageTemplate(
            "water_shutoff",
            "water",
            "minor",
            {
                "en": "Water shutoff",
                "nb": "Vannet stenges",
                "sv": "Vattenavstängning",
                "da": "Vandet lukkes",
                "nn": "Vatnet blir stengt",
            },
            {
                "en": "The water will be shut off in {area}[ from {start}][ to {end}]. "
                "Fill a few bottles before then.",
                "nb": "Vannet blir stengt i {area}[ fra {start}][ til {end}]. "
                "Fyll noen flasker før det.",
                "sv": "Vattnet stängs av i {area}[ från {start}][ till {end}]. "
                "Fyll några flaskor innan dess.",
                "da": "Vandet bliver lukket i {area}[ fra {start}][ til {end}]. "
                "Fyld et par flasker inden da.",
                "nn": "Vatnet blir stengt i {area}[ frå {start}][ til {end}]. "
                "Fyll nokre flasker før det.",
            },
        ),
        MessageTemplate(
            "boil_water",
            "water",
            "moderate",
            {
                "en": "Boil-water notice",
                "nb": "Kokevarsel",
                "sv": "Kokningsrekommendation",
                "da": "Kogeanbefaling",
                "nn": "Kokevarsel",
            },
            {
                "en": "Boil your tap water before drinking or cooking in {area}"
                "[ from {start}] until further notice.",
                "nb": "Kok vannet fra springen før du drikker det eller lager mat i {area}"
                "[ fra {start}] og inntil videre.",
                "sv": "Koka kranvattnet innan du dricker det eller lagar mat i {area}"
                "[ från {start}] tills vidare.",
                "da": "Kog vandet fra hanen, før du drikker det eller laver mad i {area}"
                "[ fra {start}] og indtil videre.",
                "nn": "Kok vatnet frå springen før du drikk det eller lagar mat i {area}"
                "[ frå {start}] og inntil vidare.",
            },
        ),
        MessageTemplate(
            "evacuation",
            "evacuation",
            "extreme",
            {
                "en": "Evacuation",
                "nb": "Evakuering",
                "sv": "Utrymning",
                "da": "Evakuering",
                "nn": "Evakuering",
            },
            {
                "en": "EVACUATE NOW: leave {area} at once and follow the instructions "
                "of the emergency services.",
                "nb": "EVAKUER NÅ: forlat {area} straks og følg nødetatenes instruksjoner.",
                "sv": "UTRYM NU: lämna {area} omedelbart och följ räddningstjänstens "
                "instruktioner.",
                "da": "EVAKUER NU: forlad {area} straks og følg beredskabets anvisninger.",
                "nn": "EVAKUER NO: forlat {area} straks og følg instruksjonane frå naudetatane.",
            },
        ),
        MessageTemplate(
            "all_clear",
            "info",
            "minor",
            {
                "en": "All clear",
                "nb": "Faren er over",
                "sv": "Faran över",
                "da": "Faren er ovre",
                "nn": "Faren er over",
            },
            {
                "en": "All clear in {area}[ from {end}]. Thank you for your patience.",
                "nb": "Faren er over i {area}[ fra {end}]. Takk for tålmodigheten.",
                "sv": "Faran är över i {area}[ från {end}]. Tack för ert tålamod.",
                "da": "Faren er ovre i {area}[ fra {end}]. Tak for jeres tålmodighed.",
                "nn": "Faren er over i {area}[ frå {end}]. Takk for tolmodet.",
            },
        ),
    )
}


PLACEHOLDER = re.compile(r"\{(area|start|end)\}")
OPTIONAL = re.compile(r"\[([^\]]*)\]")


def fill(text: str, values: dict[str, str]) -> str:
    """Placeholders replaced; a [bracketed part] kept only when all its placeholders have values,
    so no text ends in "to ." while the end time is empty."""

    def optional(match: re.Match) -> str:
        part = match.group(1)
        return part if all(values[n] for n in PLACEHOLDER.findall(part)) else ""

    return PLACEHOLDER.sub(lambda m: values[m.group(1)], OPTIONAL.sub(optional, text))


def template_texts(
    key: str,
    *,
    area: str,
    start: datetime | None,
    end: datetime | None,
    default_language: str,
    zone: ZoneInfo,
) -> dict[str, str]:
    """The template's text in each of its languages, with dates for each reader. The one in
    `default_language` (English when the template has none) is the "default" only: residents
    of that language get the default text, so a coordinator's edit of it reaches them too."""
    template = TEMPLATES[key]

    def render(lang: str) -> str:
        when = {
            name: format_sms_datetime(value, lang, zone) if value else ""
            for name, value in (("start", start), ("end", end))
        }
        return fill(template.texts[lang], {"area": area, **when})

    default = default_language if default_language in template.texts else "en"
    texts = {lang: render(lang) for lang in template.texts if lang != default_language}
    texts["default"] = render(default)
    return texts


def templates_for_browser() -> dict[str, dict]:
    """What the compose page's script needs to offer a template (the texts come from the server)."""
    return {
        key: {"category": t.category, "severity": t.severity, "titles": t.titles}
        for key, t in TEMPLATES.items()
    }
