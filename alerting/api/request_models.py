"""The JSON API's requests as pydantic models: the routes validate with them (alerting.api.contract)
and the OpenAPI document publishes their JSON Schema (alerting.api.openapi).

A request field the domain already checks carries `Domain(check)` with that check (the messages
people act on live there, in alerting.alerts and alerting.areas); its type, enum and limits are
what the document publishes. Extra members are ignored, as they always were.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from alerting.alerts import (
    MAX_AREA_NAME,
    MAX_CALL_DELAY,
    MAX_TEXT,
    MAX_TITLE,
    AlertRefused,
    check_area_id,
    check_area_name,
    check_category,
    check_exercise,
    check_severity,
    check_spoken_texts,
    check_texts,
    check_title,
    parse_only_statuses,
    parse_time,
)
from alerting.api.contract import Domain
from alerting.approval import MAX_COMMENT, check_comment
from alerting.areas import AreaError
from alerting.bounded_json import JSONInputError
from alerting.models import CATEGORIES, MESSAGE_STATES, RESPONSE_TYPES, SEVERITIES
from alerting.triggers import MAX_VALUE
from alerting.validity import ValidityError, check_response_type

# what "Try it out" sends: a block in Bergen (the demo's town)
EXAMPLE_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[5.31, 60.385], [5.33, 60.385], [5.33, 60.395], [5.31, 60.395], [5.31, 60.385]]
    ],
}


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A domain check for a field that may be left out (None passes untouched)."""
    return lambda value: None if value is None else check(value)


def _response_type(value: Any) -> str | None:
    try:
        return check_response_type(value)
    except ValidityError as exc:
        raise AlertRefused(422, exc.error, exc.detail) from None


def _area(value: Any) -> Any:
    if value is None:
        raise AreaError("missing area", 'send {"area": <GeoJSON Polygon, Feature, ...>}')
    return value


def _time(field: str) -> Domain:
    return Domain(partial(parse_time, field=field))


Category = Literal[CATEGORIES]
Severity = Literal[SEVERITIES]
MessageStatus = Literal[MESSAGE_STATES]
ResponseType = Literal[RESPONSE_TYPES]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
GeoJSON = Annotated[
    dict[str, Any],
    Field(
        description="a Polygon or MultiPolygon in WGS84 (lon, lat), a Feature or "
        "FeatureCollection of them, or a circle (a Point Feature with properties.radius_m); "
        "at most MAX_AREA_KM2 and MAX_AREA_VERTICES"
    ),
]
Texts = Annotated[
    Text | dict[str, Text],
    Domain(check_texts),
    Field(
        description='one text for all, or {"default": "...", "<language>": "..."} (a default '
        "is needed for residents whose language has none)",
        validation_alias=AliasChoices("message", "texts"),
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE), Domain(check_title)]
Time = Annotated[datetime | None, Field(description="ISO 8601; without an offset: UTC")]


class Request(BaseModel):
    """A request body or query: unknown members are ignored; values are what the domain
    checks returned (stripped texts, times as naive UTC)."""

    model_config = ConfigDict(extra="ignore")


class NewAlert(Request):
    """An alert to everyone inside `area` (or the saved area `area_id`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "area": EXAMPLE_AREA,
                "category": "water",
                "severity": "moderate",
                "title": "Boil your water",
                "message": {"default": "Boil tap water before drinking it until further notice."},
            }
        }
    )

    area: GeoJSON | None = None
    area_id: Annotated[
        int | None, Field(description="a saved area, instead of `area`"), Domain(check_area_id)
    ] = None
    area_name: Annotated[str, Field(max_length=MAX_AREA_NAME), Domain(check_area_name)] = ""
    category: Annotated[Category, Domain(check_category)]
    severity: Annotated[Severity, Domain(check_severity)]
    title: Title
    message: Texts
    send_at: Annotated[Time, _time("send_at"), Field(description="later; now when absent")] = None
    onset: Annotated[Time, _time("onset")] = None
    expires: Annotated[Time, _time("expires"), Field(description="life-safety alerts need one")] = (
        None
    )
    response_type: Annotated[ResponseType | None, Domain(_response_type)] = None
    exercise: Annotated[bool, Domain(check_exercise)] = False
    spoken_texts: Annotated[
        dict[str, Text] | None,
        Domain(check_spoken_texts),
        Field(description="what a voice call says, per language (fixed lines get a call)"),
    ] = None
    call_undelivered_after: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_CALL_DELAY,
            description="minutes after which a mobile whose SMS was not delivered is called",
        ),
    ] = None

    def alert_fields(self) -> dict[str, Any]:
        """The keyword arguments of alerting.alerts.create_alert."""
        return {
            "area": self.area,
            "area_id": self.area_id,
            "area_name": self.area_name,
            "category": self.category,
            "severity": self.severity,
            "title": self.title,
            "texts": self.message,
            "send_at": self.send_at,
            "onset": self.onset,
            "expires": self.expires,
            "response_type": self.response_type,
            "exercise": self.exercise,
            "spoken_texts": self.spoken_texts,
            "call_undelivered_after": self.call_undelivered_after,
        }


class FollowUp(Request):
    """A follow-up (an all-clear, a resend to failures) to the parent alert's recipients."""

    title: Title
    message: Texts
    category: Annotated[
        Category | None, Domain(_optional(check_category)), Field(description="the parent's")
    ] = None
    severity: Annotated[
        Severity | None, Domain(_optional(check_severity)), Field(description="the parent's")
    ] = None
    only_statuses: Annotated[
        list[MessageStatus] | None,
        Field(min_length=1, description="only the parent's messages in these statuses"),
        Domain(parse_only_statuses),
    ] = None
    onset: Annotated[Time, _time("onset")] = None
    expires: Annotated[Time, _time("expires")] = None
    response_type: Annotated[ResponseType | None, Domain(_response_type)] = None


class Rejection(Request):
    comment: Annotated[
        str, Field(min_length=1, max_length=MAX_COMMENT, description="why"), Domain(check_comment)
    ]


def _cap_text(value: Any) -> str:
    if not isinstance(value, str):
        raise JSONInputError("missing cap", 'send {"cap": "<CAP 1.2 document>"}')
    return value


class CapText(Request):
    cap: Annotated[str, Field(description="a CAP 1.2 document"), Domain(_cap_text)]


class AreaRequest(Request):
    model_config = ConfigDict(json_schema_extra={"example": {"area": EXAMPLE_AREA}})

    area: Annotated[GeoJSON, Domain(_area)]


def _upload(value: Any) -> Any:
    if value is None or isinstance(value, str):
        raise AreaError("missing file", "send the GIS file as the multipart field `file`")
    return value


def _blank_is_none(value: Any) -> Any:
    return value or None


class AreaImport(Request):
    file: Annotated[
        Any,
        Domain(_upload),
        Field(
            description="GeoJSON, zipped Shapefile (with its .prj), GeoPackage, KML or KMZ",
            json_schema_extra={"type": "string", "format": "binary"},
        ),
    ]
    crs: Annotated[
        str | None,
        Domain(_blank_is_none),
        Field(description="only for a file that declares none", examples=["EPSG:25833"]),
    ] = None
    name_field: Annotated[
        str | None, Domain(_blank_is_none), Field(description="the attribute naming the areas")
    ] = None
    library: Annotated[str | None, Domain(_blank_is_none)] = None
    replace: Annotated[
        bool, Field(description="update saved areas of the same name, each a new version")
    ] = False


class AlertQuery(Request):
    exercise: Annotated[
        Literal["true", "false"] | None,
        Field(description="true: only exercises, false: only real alerts"),
    ] = None


class TriggerCall(Request):
    values: dict[str, Annotated[str, Field(max_length=MAX_VALUE)]] = {}
    area: GeoJSON | None = None


class TriggerSignature(Request):
    x_alerting_timestamp: Annotated[str, Field(alias="X-Alerting-Timestamp")]
    x_alerting_signature: Annotated[
        str, Field(alias="X-Alerting-Signature", description='"sha256=<hex HMAC>"')
    ]
