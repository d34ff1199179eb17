"""What a request may cost before a view reads it: body size, form size, ids and JSON.

Every body is limited to MAX_REQUEST_BYTES (the API, the webhooks, the forms); the register
upload keeps its own larger limit, because a municipality's register is tens of megabytes.
`<int:...>` in a route only matches ids the database can hold (alerting.ids), and request JSON
goes through alerting.bounded_json. Registered in the app factory before any blueprint, because
a route's converters are looked up when the route is added.
"""

from __future__ import annotations

from flask import Flask, Request, abort

from alerting.bounded_json import BoundedJSONProvider
from alerting.ids import IdConverter

MAX_REQUEST_BYTES = 4 * 1024 * 1024
REGISTER_UPLOAD_BYTES = 64 * 1024 * 1024
LARGE_UPLOADS = frozenset({"staff.resident_import"})  # endpoints that take REGISTER_UPLOAD_BYTES

# inbound SMS fields that land in fixed-width columns (status callbacks have their own, fuller
# check in alerting.sending.receipts.refusal)
INBOUND_FIELD_LENGTHS = {"MessageSid": 64, "SmsSid": 64, "From": 64}
# a call's status callback and key press: the SID and status land in delivery_events
CALL_FIELD_LENGTHS = {"CallSid": 64, "CallStatus": 20, "Digits": 20, "ErrorCode": 20}


class BoundedRequest(Request):
    """A request whose body limit depends on the route it matched."""

    @property
    def max_content_length(self) -> int | None:
        if self.endpoint in LARGE_UPLOADS:
            return REGISTER_UPLOAD_BYTES
        return super().max_content_length


def check_inbound_fields(params: dict[str, str]) -> None:
    """400 for an inbound SMS whose fields cannot be stored, before anything is done with it."""
    for name, length in INBOUND_FIELD_LENGTHS.items():
        if len(params.get(name, "")) > length:
            abort(400, f"{name} is longer than {length} characters")


def check_call_fields(params: dict[str, str]) -> None:
    """400 for a call's callback whose fields cannot be stored, or that holds a NUL byte."""
    for name, length in CALL_FIELD_LENGTHS.items():
        if len(params.get(name, "")) > length:
            abort(400, f"{name} is longer than {length} characters")
    if any("\x00" in k or "\x00" in v for k, v in params.items()):
        abort(400, "a field contains a NUL byte")


def init_app(app: Flask) -> None:
    app.config.update(MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES)
    app.request_class = BoundedRequest
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = IdConverter
