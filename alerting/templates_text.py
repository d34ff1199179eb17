"""Message templates staff start from: water shutoff, boil-water notice, evacuation, all clear.

Placeholders: {area}, {start}, {end}; a part in [brackets] is left out when a placeholder in it is
empty ("[ to {end}]" without an end time). A language without its own text uses the
English one. The compose page's script (static/compose.js) fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass


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
            },
        ),
        MessageTemplate(
            "evacuation",
            "evacuation",
            "extreme",
            {"en": "Evacuation", "nb": "Evakuering", "sv": "Utrymning", "da": "Evakuering"},
            {
                "en": "EVACUATE NOW: leave {area} at once and follow the instructions "
                "of the emergency services.",
                "nb": "EVAKUER NÅ: forlat {area} straks og følg nødetatenes instruksjoner.",
                "sv": "UTRYM NU: lämna {area} omedelbart och följ räddningstjänstens "
                "instruktioner.",
                "da": "EVAKUER NU: forlad {area} straks og følg beredskabets anvisninger.",
            },
        ),
        MessageTemplate(
            "all_clear",
            "info",
            "minor",
            {"en": "All clear", "nb": "Faren er over", "sv": "Faran över", "da": "Faren er ovre"},
            {
                "en": "All clear in {area}[ from {end}]. Thank you for your patience.",
                "nb": "Faren er over i {area}[ fra {end}]. Takk for tålmodigheten.",
                "sv": "Faran är över i {area}[ från {end}]. Tack för ert tålamod.",
                "da": "Faren er ovre i {area}[ fra {end}]. Tak for jeres tålmodighed.",
            },
        ),
    )
}


def templates_for_browser() -> dict[str, dict]:
    """Every template as plain data for the compose page's script."""
    return {
        key: {"category": t.category, "severity": t.severity, "titles": t.titles, "texts": t.texts}
        for key, t in TEMPLATES.items()
    }
