"""Each /api/v1 route states its contract once, with `@operation(...)`: the pydantic models of its
body, query and answers. The same declaration validates the request (the view receives the
validated model) and describes the route in the OpenAPI document (alerting.api.openapi), so the
two cannot disagree.

Refusals keep the API's shape and the domain's words: a field marked `Domain(check)` is checked
by the domain validator people already know (alerting.alerts, alerting.areas), before pydantic's
type check, so its refusal (AlertRefused, AreaError, ...) is what the caller reads; a field
without one is refused as `{"error": "invalid <field>", "detail": "<field> is <what it must
be>"}`, written from its schema, never pydantic's own text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, GetCoreSchemaHandler, ValidationError
from pydantic_core import core_schema

from alerting.bounded_json import JSONInputError, request_object


@dataclass(frozen=True)
class Domain:
    """Field metadata: run `check(raw value) -> value` before the field's type; it refuses with
    the domain's own error (and is asked about a missing required field too, with None)."""

    check: Callable[[Any], Any]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))


@dataclass(frozen=True)
class RawBody:
    """A body that is not JSON (a CAP document): read by the view itself, described here."""

    media_type: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says about one route, and what its wrapper validates."""

    summary: str
    ok: dict[int, tuple[type[BaseModel] | RawBody, str]]
    errors: tuple[int, ...]
    role: str | None = None
    description: str = ""
    tag: str = ""
    body: type[BaseModel] | RawBody | None = None
    body_media: str = "application/json"
    validate_body: bool = True  # False: the view reads the body itself (a signed one)
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    public: bool = False


def operation(summary: str, **spec: Any) -> Callable[[Callable], Callable]:
    """Declare a route's contract; the view gets `body=` and `query=` as validated models."""
    op = Operation(summary, **spec)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            if isinstance(op.body, type) and op.validate_body:
                kwargs["body"] = validated(op.body, _body_data(op.body_media))
            if op.query is not None:
                kwargs["query"] = validated(op.query, request.args.to_dict())
            return view(**kwargs)

        wrapped.openapi = op  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _body_data(media: str) -> dict[str, Any]:
    if media == "multipart/form-data":
        return request.form.to_dict() | request.files.to_dict()
    return request_object()


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`, or the first refusal in the API's words."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise refusal(model, exc.errors()[0]) from None


def _field_named(model: type[BaseModel], name: Any):
    for field_name, info in model.model_fields.items():
        if name == field_name or name in _aliases(info):
            return field_name, info
    return None, None


def _aliases(info: Any) -> list[str]:
    alias = info.validation_alias
    if alias is None:
        return []
    return [str(a) for a in getattr(alias, "choices", [alias])]


def refusal(model: type[BaseModel], error: dict[str, Any]) -> Exception:
    """The exception to raise for pydantic's `error`: the domain's own when a validator raised a
    ValueError with `error` and `detail` (or its check refuses a missing field), else one written
    from the field's schema."""
    raised = error.get("ctx", {}).get("error")
    if hasattr(raised, "error") and hasattr(raised, "detail"):
        return JSONInputError(raised.error, raised.detail)
    loc = error["loc"]
    name, info = _field_named(model, loc[0]) if loc else (None, None)
    label = ".".join(str(part) for part in loc) or "the body"
    expected = _expected(model, loc)
    if error["type"] == "missing" and info is not None:
        for meta in info.metadata:
            if isinstance(meta, Domain):
                meta.check(None)  # raises the domain's refusal of "not given"
        return JSONInputError(f"missing {label}", f"give {label}: {expected}")
    return JSONInputError(f"invalid {label}", f"{label} is {expected}")


def _expected(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """What the value at `loc` must be, in words, from the model's JSON schema."""
    schema = model.model_json_schema(by_alias=False)
    defs = schema.get("$defs", {})
    for part in loc:
        schema = _resolved(schema, defs)
        if isinstance(part, int):
            schema = schema.get("items", {})
        else:
            extra = schema.get("additionalProperties")
            extra = extra if isinstance(extra, dict) else {}
            schema = schema.get("properties", {}).get(part, extra)
    return _words(schema, defs)


def _resolved(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`schema` with a $ref followed and a nullable union reduced to its non-null member."""
    if "$ref" in schema:
        schema = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
    options = [o for o in schema.get("anyOf", ()) if o.get("type") != "null"]
    return _resolved(options[0], defs) if len(options) == 1 else schema


_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def _words(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _words(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "anyOf" in schema:
        return " or ".join(_words(option, defs) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type", "")
    words = _TYPE_WORDS.get(kind, "a value")
    low, high = (
        ("minLength", "maxLength")
        if kind == "string"
        else ("minItems", "maxItems")
        if kind == "array"
        else ("minimum", "maximum")
    )
    unit = {"string": " characters", "array": " items"}.get(kind, "")
    of = " of" if unit else ""
    if low in schema and high in schema:
        return f"{words}{of} {'' if unit else 'from '}{schema[low]} to {schema[high]}{unit}"
    if high in schema:
        return f"{words}{of} at most {schema[high]}{unit}"
    if low in schema:
        return f"{words}{of} at least {schema[low]}{unit}"
    return words
