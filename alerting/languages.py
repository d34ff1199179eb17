"""Language codes residents may choose: ISO 639 codes that Babel (CLDR) knows."""

from __future__ import annotations

import functools

from babel import Locale


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


@functools.cache
def all_language_names(locale: str) -> dict[str, str]:
    """Every code residents may have, named in `locale` ("nn" → "norsk nynorsk" in nb): the
    compose page names text boxes and counts by these whatever area is drawn (about 12 kB, the
    same for every page, where asking the register which languages it has is a scan)."""
    names = Locale.parse(locale).languages
    return {code: names.get(code, code) for code in sorted(known_languages())}
