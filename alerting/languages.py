"""Language codes residents may choose: ISO 639 codes that Babel (CLDR) knows."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting.models import Resident


@functools.cache
def known_languages() -> frozenset[str]:
    return frozenset(code for code in Locale("en").languages if "_" not in code)


def normalise_language(code: str | None, default: str) -> str:
    """Lower-case a code and check it; raise ValueError with the reason when unknown."""
    text = (code or "").strip().lower().replace("-", "_")
    if not text:
        return default
    base = text.split("_")[0]
    if base not in known_languages():
        raise ValueError(f"unknown language code {code!r} (use ISO 639-1, e.g. nb, en, sv)")
    return base


def language_name(code: str, locale: str = "en") -> str:
    """A language's name in `locale` (the interface language); the code when Babel has none."""
    return Locale.parse(locale).languages.get(code, code)


def language_names(codes: Iterable[str], locale: str) -> dict[str, str]:
    """Each code's name in the interface language ("nn" → "norsk nynorsk" in nb), for pages."""
    names = Locale.parse(locale).languages
    return {code: names.get(code, code) for code in codes if code}


def resident_language_names(session: Session, locale: str) -> dict[str, str]:
    """Names of every language residents have: the compose page names a text box or a count
    by these whatever area is drawn."""
    codes = session.scalars(select(Resident.language).distinct()).all()
    return language_names(codes, locale)
