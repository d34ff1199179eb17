"""SMS part counting: the examples here are also run through the JS counter in the browser tests."""

from __future__ import annotations

import pytest

from alerting.sms_parts import count_parts

# (text, encoding, units, parts): shared with tests/browser/test_compose.py
EXAMPLES = [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("Vannet stenges på Strandvegen; kok vannet! ÆØÅ æøå é ü ä ö", "GSM-7", 58, 1),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    ("^{}[]~|\\", "GSM-7", 16, 1),
    ("Ł" * 70, "UCS-2", 70, 1),
    ("Ł" * 71, "UCS-2", 71, 2),
    ("Woda zostanie odcięta " + "x" * 112, "UCS-2", 134, 2),
    ("Ł" * 135, "UCS-2", 135, 3),
    ("🙂" * 35, "UCS-2", 70, 1),
]


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), EXAMPLES)
def test_parts_follow_gsm7_and_ucs2_limits(text, encoding, units, parts):
    result = count_parts(text)
    assert (result.encoding, result.units, result.parts) == (encoding, units, parts)


def test_nordic_letters_and_capitals_stay_in_gsm7():
    assert count_parts("ÅÄÖÆØÉÜ åäöæøéü").encoding == "GSM-7"


def test_one_character_outside_gsm7_switches_the_whole_text_to_ucs2():
    assert count_parts("a" * 100 + "ç").encoding == "UCS-2"  # lower-case ç is not GSM-7
    assert count_parts("a" * 100 + "ç").parts == 2


def test_extension_characters_cost_two_septets():
    assert count_parts("{" * 80).units == 160
    assert count_parts("{" * 80).parts == 1
    assert count_parts("{" * 81).parts == 2


def test_remaining_counts_down_to_the_next_part():
    assert count_parts("a" * 150).remaining == 10
    assert count_parts("a" * 200).remaining == 106
