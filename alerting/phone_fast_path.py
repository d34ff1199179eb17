"""The common Nordic ways of writing a phone number, normalised without `phonenumbers.parse`.

A register is mostly '91234567', '+47 912 34 567', '0047 91234567', '912-34-567'; parsing each
with `phonenumbers` costs ~20-45 µs, most of a row's import budget. This reads the digits
directly and judges them with phonenumbers' own metadata patterns, in the order
`phonenumbers.number_type` tests them, so the answer is the library's. Anything it is not sure
of (a trunk 0, other punctuation, another country, an invalid number) returns None, and the
caller asks `phonenumbers` itself. tests/test_phone_fast_path.py checks this against phonenumbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumberType

# the regions whose numbers we read directly: their international prefix is 00
FAST_REGIONS = ("NO", "SE", "DK")
_COUNTRY_CODES = {"47": 47, "46": 46, "45": 45}
_SEPARATORS = str.maketrans("", "", " -")


@dataclass(frozen=True)
class _Desc:
    kind: int  # a PhoneNumberType constant
    lengths: tuple[int, ...]
    pattern: str

    def regex(self) -> str:
        """phonenumbers' `_is_number_matching_desc` as a regex: the length first, then the
        whole pattern (the number is all digits, so a length is a lookahead)."""
        lengths = "|".join(rf"\d{{{n}}}" for n in self.lengths)
        return (rf"(?=(?:{lengths})\Z)" if lengths else "") + f"(?:{self.pattern})"


_SPECIAL = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
    ("fixed_line", PhoneNumberType.FIXED_LINE),
    ("mobile", PhoneNumberType.MOBILE),
)


def _desc(number_desc, kind: int) -> _Desc | None:
    if number_desc is None or not number_desc.national_number_pattern:
        return None  # phonenumbers: an absent or empty pattern never matches
    return _Desc(kind, tuple(number_desc.possible_length), number_desc.national_number_pattern)


@dataclass(frozen=True)
class _Region:
    """One region's metadata as one regex: the general description must match the whole number,
    then the first of the types (in phonenumbers' order) that matches the whole number wins."""

    leading_digits: re.Pattern[str] | None
    types: re.Pattern[str]
    mobile: re.Pattern[str] | None
    same_mobile_and_fixed: bool

    def number_type(self, nsn: str) -> int:
        """phonenumbers' `_number_type_helper`, in one match."""
        match = self.types.fullmatch(nsn)
        if match is None:
            return PhoneNumberType.UNKNOWN
        kind = int(match.lastgroup[1:])
        if kind == PhoneNumberType.FIXED_LINE:
            # a fixed-line pattern that mobiles share says both
            if self.same_mobile_and_fixed or (self.mobile and self.mobile.fullmatch(nsn)):
                return PhoneNumberType.FIXED_LINE_OR_MOBILE
        elif kind == PhoneNumberType.MOBILE and self.same_mobile_and_fixed:
            return PhoneNumberType.UNKNOWN  # phonenumbers only tries mobile when they differ
        return kind


def _region(code: str) -> _Region:
    meta = PhoneMetadata.metadata_for_region(code)
    general = _desc(meta.general_desc, PhoneNumberType.UNKNOWN)
    descs = [d for name, kind in _SPECIAL if (d := _desc(getattr(meta, name), kind))]
    mobile = _desc(meta.mobile, PhoneNumberType.MOBILE)
    alternatives = "|".join(f"(?P<t{int(d.kind)}>{d.regex()})" for d in descs)
    types = f"(?={general.regex()}\\Z)(?:{alternatives})" if general and descs else "(?!)"
    return _Region(
        leading_digits=re.compile(meta.leading_digits) if meta.leading_digits else None,
        types=re.compile(types),
        mobile=re.compile(mobile.regex()) if mobile else None,
        same_mobile_and_fixed=bool(meta.same_mobile_and_fixed_line_pattern),
    )


# country code -> its regions in phonenumbers' order (+47 is Norway and Svalbard)
_REGIONS = {
    cc: [_region(code) for code in COUNTRY_CODE_TO_REGION_CODE[cc]]
    for cc in _COUNTRY_CODES.values()
}
_REGION_CC = {
    region: PhoneMetadata.metadata_for_region(region).country_code for region in FAST_REGIONS
}


@dataclass(frozen=True)
class _Home:
    """What phonenumbers needs to tell '4791234567' (the country code without a +) from a
    national number that merely starts with 47."""

    code: str
    pattern: re.Pattern[str]  # the general description, without its lengths
    longest: int
    local_only: tuple[int, ...]
    trunk_prefix: bool  # a national prefix to strip first (Sweden's 0): not read directly


def _home(region: str) -> _Home:
    meta = PhoneMetadata.metadata_for_region(region)
    general = meta.general_desc
    return _Home(
        code=str(meta.country_code),
        pattern=re.compile(general.national_number_pattern),
        longest=max(general.possible_length),
        local_only=tuple(general.possible_length_local_only),
        trunk_prefix=meta.national_prefix_for_parsing is not None,
    )


_HOMES = {region: _home(region) for region in FAST_REGIONS}


def _without_country_code(digits: str, region: str) -> str:
    """phonenumbers' `_maybe_extract_country_code` for a number with neither + nor 00: the
    national number ('' when only phonenumbers can tell)."""
    home = _HOMES[region]
    if not digits.startswith(home.code):
        return digits
    if home.trunk_prefix:
        return ""
    rest = digits[len(home.code) :]
    too_long = len(digits) not in home.local_only and len(digits) > home.longest
    if too_long or (not home.pattern.fullmatch(digits) and home.pattern.fullmatch(rest)):
        return rest
    return digits


def fast_number(text: str, region: str) -> tuple[str, int] | None:
    """(E.164, type) of a valid number written in a common way, or None: ask phonenumbers."""
    if region not in _REGION_CC:
        return None
    compact = text.translate(_SEPARATORS)
    if not compact.isascii():
        return None  # full-width or other digits: phonenumbers normalises them
    if compact.startswith("+"):
        cc, nsn = _COUNTRY_CODES.get(compact[1:3]), compact[3:]
    elif compact.startswith("00"):
        cc, nsn = _COUNTRY_CODES.get(compact[2:4]), compact[4:]
    else:
        cc, nsn = _REGION_CC[region], _without_country_code(compact, region)
    if cc is None or not nsn.isdigit() or nsn.startswith("0"):
        return None  # another country, punctuation, or a trunk 0 that phonenumbers may strip
    kind = _type(cc, nsn)
    if kind == PhoneNumberType.UNKNOWN:
        return None  # invalid: let phonenumbers say so in its own way
    return f"+{cc}{nsn}", kind


def _type(cc: int, nsn: str) -> int:
    """phonenumbers' `number_type` of +cc nsn; UNKNOWN also when no region claims it (invalid)."""
    regions = _REGIONS[cc]
    if len(regions) == 1:
        return regions[0].number_type(nsn)
    for region in regions:  # `_region_code_for_number_from_list`
        if region.leading_digits is not None:
            if region.leading_digits.match(nsn):
                return region.number_type(nsn)
        elif (kind := region.number_type(nsn)) != PhoneNumberType.UNKNOWN:
            return kind
    return PhoneNumberType.UNKNOWN
