"""JSON from outside, parsed at a bounded cost: nesting depth, number length and NaN refused.

Python's json module recurses once per nesting level, so a body nested ~1,000 deep ends in a
RecursionError somewhere after the parse (a 500). The depth is therefore checked on the raw text,
before parsing, by counting brackets outside strings, and so is the length of numbers: a 400-digit
integer is valid JSON that no float or database column can hold. Both checks run in C (re, numpy):
parse hooks would call Python once per number and cost seconds on a 4 MB body.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from flask import request
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # a FeatureCollection of MultiPolygons inside a request body is 9 deep
MAX_NUMBER_DIGITS = 40  # more than any id, count or coordinate written in full precision

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
# \u0000 escaped in a string (JSON allows no raw control character there): an odd run of
# backslashes before u0000, since "\\u0000" is a backslash followed by the text u0000
_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# the text as bytes with each bracket a step of the depth (2 opens, 0 closes: minus 1 later) and
# everything else deleted; and with every digit a "0" and everything else a space
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_NOT_BRACKET = bytes(set(range(256)) - set(b"[{]}"))
_DIGITS = bytes(ord("0") if chr(i).isdigit() and i < 128 else ord(" ") for i in range(256))
_LONG_NUMBER = b"0" * (MAX_NUMBER_DIGITS + 1)


class JSONInputError(ValueError):
    """JSON we refuse: `error` says what is wrong, `detail` how to fix it (shown to people)."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


def nesting_depth(text: bytes) -> int:
    """How deep arrays and objects nest in `text` (strings taken out), counted without parsing:
    numpy sums the steps, so a 4 MB body costs milliseconds, not a Python loop per bracket."""
    steps = text.translate(_STEPS, _NOT_BRACKET)
    if not steps:
        return 0
    return int(np.cumsum(np.frombuffer(steps, dtype=np.int8) - 1, dtype=np.int64).max())


def _constant(name: str) -> float:
    raise JSONInputError("not a number", f"{name} is not a number JSON allows; send a number")


def loads(data: str | bytes) -> Any:
    """Parse JSON from outside; JSONInputError says why it is refused. Floats too large for a
    float arrive as inf, which every range check refuses."""
    if isinstance(data, bytes):
        try:
            data = data.decode(json.detect_encoding(data))
        except UnicodeDecodeError:
            raise JSONInputError("invalid JSON", "the body is not UTF-8 text") from None
    outside_strings = _STRING.sub('""', data).encode("utf-8", "replace")
    depth = nesting_depth(outside_strings)
    if depth > MAX_DEPTH:
        raise JSONInputError(
            "nested too deep",
            f"lists and objects nest {depth} deep; at most {MAX_DEPTH} levels are accepted",
        )
    if _NUL.search(data):  # no text we take means anything with one; PostgreSQL cannot store it
        raise JSONInputError("NUL character", "a text contains \\u0000; remove it")
    if _LONG_NUMBER in outside_strings.translate(_DIGITS):
        raise JSONInputError(
            "number too long", f"a number has more than {MAX_NUMBER_DIGITS} digits"
        )
    try:
        with _no_gc():
            return json.loads(data, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise JSONInputError("invalid JSON", str(exc)) from None


@contextmanager
def _no_gc() -> Iterator[None]:
    """Parsing builds hundreds of thousands of lists, each a step towards the next garbage
    collection of the whole heap; nothing parsed is garbage yet, so those collections only cost
    time (a 4 MB area: 1.4 s with them, 0.5 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON: request bodies go through `loads` above (get_json turns its refusal into
    None with silent=True, or a 400, like any other bad JSON)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


def request_object(hint: str = "send a JSON object") -> dict[str, Any]:
    """The request body as a JSON object, or JSONInputError with the reason (not silent None)."""
    if not request.is_json:
        raise JSONInputError("invalid JSON", f"{hint}, with Content-Type: application/json")
    body = loads(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise JSONInputError("invalid JSON", hint)
    return body
