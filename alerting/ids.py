"""Row ids the database can hold. Ids are INTEGER columns: PostgreSQL's ends at 2**31 - 1, and
asking for a larger one is a database error (a 500), not "no such row"; SQLite's ends at 2**63 - 1
and Python's int does not end at all. Route converters and JSON ids use this one range on both."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2**31 - 1


def is_id(value: Any) -> bool:
    """Whether `value` could be a row's id (a JSON true is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: beyond the database's range the URL matches nothing (404)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):  # int() of thousands of digits is refused by Python
            raise ValidationError()
        return super().to_python(value)
