"""The import's fast path for phone numbers gives exactly phonenumbers' answer, for numbers written
every way a register writes them (and ways it should not)."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.phone_fast_path import fast_number
from alerting.phones import _SMS_CAPABLE, PhoneError, parse_phone

COUNTRY_CODES = ["47", "46", "45", "358", "354", "44", "1", "298"]
# leading digits that make valid numbers likely: mobiles, fixed lines, Svalbard, service numbers
LEADING = ["4", "9", "2", "3", "5", "6", "7", "79", "8", "80", "82", "70", "07", "0", "1", ""]
REGIONS = ["NO", "SE", "DK", "FI", "GB"]


@st.composite
def written_numbers(draw) -> str:
    nsn = draw(st.sampled_from(LEADING)) + draw(st.text("0123456789", min_size=0, max_size=11))
    cc = draw(st.sampled_from(COUNTRY_CODES))
    form = draw(st.sampled_from(["+{cc}{n}", "00{cc}{n}", "{n}", "0{n}", "(+{cc}) {n}", "{cc}{n}"]))
    text = form.format(cc=cc, n=nsn)
    # separators between any characters, as people type them
    out = []
    for char in text:
        out.append(char)
        out.append(draw(st.sampled_from(["", "", "", " ", "-", ".", "  "])))
    return draw(st.sampled_from(["", " "])) + "".join(out)


def reference(text: str, region: str) -> tuple[str, bool] | None:
    """What the import did before the fast path: phonenumbers alone."""
    try:
        number = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number) in _SMS_CAPABLE


def ours(text: str, region: str) -> tuple[str, bool] | None:
    try:
        phone = parse_phone(text, region)
    except PhoneError:
        return None
    return phone.e164, phone.mobile


@settings(max_examples=3000, deadline=None)
@given(written_numbers(), st.sampled_from(REGIONS))
def test_every_written_number_normalises_as_phonenumbers_says(text, region):
    assert ours(text, region) == reference(text, region)
    fast = fast_number(text.strip(), region)
    if fast is not None:  # the fast path only answers when it is right, and never for invalid
        number = phonenumbers.parse(text.strip(), region)
        assert fast == (
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
            phonenumbers.number_type(number),
        )


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(["47", "46", "45"]), st.integers(10**4, 10**10 - 1))
def test_random_nordic_numbers_get_phonenumbers_type_and_validity(cc, digits):
    region = {"47": "NO", "46": "SE", "45": "DK"}[cc]
    # the last two: a national number, or the country code without a + (phonenumbers decides)
    for text in (f"+{cc}{digits}", f"00{cc} {digits}", str(digits), f"{cc}{digits}"):
        assert ours(text, region) == reference(text, region)


def test_the_common_formats_take_the_fast_path():
    for text in ("91234567", "+47 912 34 567", "0047 91234567", "912-34-567", "+46 70 123 45 67"):
        assert fast_number(text, "NO") is not None, text
    assert fast_number("22 12 34 56", "NO") == (
        "+4722123456",
        phonenumbers.PhoneNumberType.FIXED_LINE,
    )
    assert fast_number("+47 79 12 34 56", "NO")[0] == "+4779123456"  # Svalbard shares +47


def test_a_number_refused_is_refused_again_from_the_cache():
    for _ in range(2):
        try:
            parse_phone("+47 123", "NO")
        except PhoneError as exc:
            assert "not a" in str(exc)
        else:
            raise AssertionError("accepted an invalid number")
