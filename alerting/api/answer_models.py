"""The JSON API's answers as pydantic models: what the OpenAPI document says each route returns
(alerting.api.openapi), and what schemathesis holds the live answers to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model

from alerting.api.request_models import Category, ResponseType, Severity
from alerting.models import ALERT_STATES, MESSAGE_STATES
from alerting.validity import PUBLIC_STATUSES

AlertStatus = Literal[ALERT_STATES]
Count = Annotated[int, Field(ge=0)]


class Error(BaseModel):
    """`error` says what is wrong, `detail` how to fix it (shown to people)."""

    error: str
    detail: str


class Created(BaseModel):
    id: int
    status: AlertStatus
    recipients: Count


MessageCounts = create_model(
    "MessageCounts",
    __doc__="messages per status, every status (zeros included)",
    **{state: (Count, ...) for state in MESSAGE_STATES},
)


class Failure(BaseModel):
    error_code: str | None
    count: Count
    reason: str | None


class Alert(BaseModel):
    id: int
    status: AlertStatus
    exercise: bool
    category: Category
    severity: Severity
    title: str
    texts: dict[str, str]
    area_name: str
    area_id: int | None
    parent_id: int | None
    sender: str | None
    created_by: str
    recipients: Count | None
    skipped: Count | None
    counts: MessageCounts  # type: ignore[valid-type]
    failures: list[Failure]
    created_at: datetime | None
    send_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str | None
    onset: datetime | None
    expires: datetime | None
    response_type: ResponseType | None
    superseded_by: int | None
    public_status: Annotated[
        Literal[PUBLIC_STATUSES] | None,
        Field(description="what /public says about it; null while it is not there"),
    ]


class AlertList(BaseModel):
    alerts: list[Alert]


class Preview(BaseModel):
    residents: Count
    phones: Count
    opted_out: Count
    languages: dict[str, Count]
    bbox: Annotated[
        list[float], Field(min_length=4, max_length=4, description="[west, south, east, north]")
    ]


class TestGroup(BaseModel):
    phones: Count
    staff: Count
    volunteers: Count
    opted_out: Count


class SavedArea(BaseModel):
    id: int
    name: str


class UpdatedArea(SavedArea):
    version: int


class RefusedFeature(BaseModel):
    feature: int
    name: str
    reason: str


class ImportReport(BaseModel):
    library: str | None
    created: list[SavedArea]
    updated: list[UpdatedArea]
    refused: list[RefusedFeature]


class CapDone(BaseModel):
    id: int
    status: AlertStatus
    done: str


class CapParsed(BaseModel):
    area: dict[str, Any] | None
    area_name: str
    title: str
    texts: dict[str, str]
    category: Category
    severity: Severity
    onset: datetime | None
    expires: datetime | None


class Fired(BaseModel):
    id: int
    status: AlertStatus
    deduplicated: bool
