"""JSON from outside, parsed at a bounded cost: nesting depth, number length and NaN refused.

Python's json module recurses once per nesting level, so a body nested ~1,000 deep ends in a
RecursionError somewhere after the parse (a 500). The depth is therefore checked on the raw text,
before parsing, by counting brackets outside strings; numbers are bounded while parsing, because
a 400-digit integer is valid JSON that no float or database column can hold.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32  # a FeatureCollection of MultiPolygons inside a request body is 9 deep
MAX_NUMBER_DIGITS = 40  # more than any id, count or coordinate written in full precision

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JSONInputError(ValueError):
    """JSON we refuse: `error` says what is wrong, `detail` how to fix it (shown to people)."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(f"{error}: {detail}")
        self.error = error
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"error": self.error, "detail": self.detail}


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, counted without parsing it."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0)


def _number(text: str, convert: type) -> Any:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise JSONInputError(
            "number too long",
            f"a number has {len(text)} characters; numbers have at most {MAX_NUMBER_DIGITS}",
        )
    return convert(text)


def _finite_float(text: str) -> float:
    value = _number(text, float)
    if not math.isfinite(value):
        raise JSONInputError("not a number", f"{text} is too large to be a number here")
    return value


def _constant(name: str) -> float:
    raise JSONInputError("not a number", f"{name} is not a number JSON allows; send a number")


def loads(data: str | bytes) -> Any:
    """Parse JSON from outside; JSONInputError says why it is refused."""
    if isinstance(data, bytes):
        try:
            data = data.decode(json.detect_encoding(data))
        except UnicodeDecodeError:
            raise JSONInputError("invalid JSON", "the body is not UTF-8 text") from None
    depth = nesting_depth(data)
    if depth > MAX_DEPTH:
        raise JSONInputError(
            "nested too deep",
            f"lists and objects nest {depth} deep; at most {MAX_DEPTH} levels are accepted",
        )
    try:
        return json.loads(
            data,
            parse_int=lambda s: _number(s, int),
            parse_float=_finite_float,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        raise JSONInputError("invalid JSON", str(exc)) from None


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
