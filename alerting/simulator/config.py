"""The simulator's options: one dataclass, read from `SIM_*` env vars or changed at runtime."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .wire import DELIVERY_ERRORS

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32  # hex, like Twilio's ^AC[0-9a-fA-F]{32}$
DEFAULT_AUTH_TOKEN = "simulator-auth-token"
# Vonage's side (alerting.simulator.vonage): published like Twilio's, refused in production
DEFAULT_VONAGE_API_KEY = "simkey01"
DEFAULT_VONAGE_API_SECRET = "simulator-vonage-secret"
DEFAULT_VONAGE_SIGNATURE_SECRET = "simulator-vonage-signature-secret"

FINAL_OUTCOMES = ("delivered", "undelivered", "failed", "sent", "queued")


class ConfigError(ValueError):
    """An option value that cannot be used (bad env var or /_sim/config payload)."""


@dataclass(frozen=True)
class Outcome:
    """What happens to messages to one number: an API error at create time (`api_error`),
    or the status the message ends in (`final`) with its delivery `error_code`."""

    final: str = "delivered"
    error_code: int | None = None
    api_error: int | None = None

    @classmethod
    def parse(cls, spec: str | int) -> Outcome:
        """ "21610" → API error; "undelivered:30005", "failed", "delivered", "sent" (never a
        final status: a lost receipt), "queued" (never sent)."""
        text = str(spec).strip().lower()
        if text.isdigit():
            code = int(text)
            if 30000 <= code < 31000:
                return cls("undelivered", code)
            return cls(api_error=code)
        status, _, code_text = text.partition(":")
        if status not in FINAL_OUTCOMES:
            raise ConfigError(f"unknown outcome {spec!r}")
        if code_text:
            if not code_text.isdigit():
                raise ConfigError(f"bad error code in outcome {spec!r}")
            return cls(status, int(code_text))
        default = {"undelivered": 30003, "failed": 30008}.get(status)
        return cls(status, default)

    def to_json(self) -> str:
        if self.api_error is not None:
            return str(self.api_error)
        return f"{self.final}:{self.error_code}" if self.error_code else self.final


@dataclass
class SimulatorConfig:
    """Every knob of the simulator. Rates are probabilities 0..1; times in milliseconds."""

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    mps: int = 0  # accepted messages per second per sender (From / MessagingServiceSid); 0 = no cap
    latency_ms: float = 0.0  # added to every Messages API answer
    failure_rate: float = 0.0  # share of messages ending undelivered/failed with a 300xx code
    seed: int | None = None  # makes failure/duplicate/reorder/drop draws repeatable
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # number → forced outcome
    unsubscribed: set[str] = field(default_factory=set)  # sends to these get 21610
    landlines: set[str] = field(default_factory=set)  # sends to these get 21614
    allowed_senders: set[str] = field(default_factory=set)  # empty = any From; else 21606
    duplicate_rate: float = 0.0  # chance each status callback is POSTed twice
    reorder_rate: float = 0.0  # chance a message's final callback comes before `sent`
    drop_rate: float = 0.0  # chance a status callback is never sent (lost receipt)
    callback_delay_ms: float = 100.0  # before each status step (queued→sent→delivered)
    callback_timeout_s: float = 15.0  # Twilio's webhook timeout
    callback_retries: int = 3  # on connection errors, timeouts, 429 and 5xx; then dropped
    callback_retry_ms: float = 200.0  # wait before the first retry, doubling after each
    callback_concurrency: int = 32  # status callbacks in flight at once
    inbound_url: str | None = None  # where /_sim/inbound posts the phone's SMS (the app)
    service_from: str = "+15005550006"  # the number a messaging service "picks"
    max_messages: int = 1_000_000  # oldest messages are forgotten beyond this
    # Vonage's side: credentials, where inbound SMS and delivery receipts go, and an outage of
    # Twilio's side (`twilio_status` 500 or 503: every Messages API call answers that)
    vonage_api_key: str = DEFAULT_VONAGE_API_KEY
    vonage_api_secret: str = DEFAULT_VONAGE_API_SECRET
    vonage_signature_secret: str = DEFAULT_VONAGE_SIGNATURE_SECRET
    vonage_inbound_url: str | None = None
    twilio_status: int = 0  # 0: Twilio's side answers normally
    # calls (alerting.simulator.calls): shares of calls ending busy / unanswered, how long an
    # answered call lasts, outcomes by number in order ("busy;completed"), share pressing 1
    call_busy_share: float = 0.0
    call_no_answer_share: float = 0.0
    call_seconds: float = 2.0
    call_outcomes: dict[str, list[str]] = field(default_factory=dict)
    call_press_share: float = 0.0

    def __post_init__(self) -> None:
        """Check and normalise every value, so `SimulatorConfig(landlines=["+47..."],
        outcomes={"+47...": "21610"})` works like the env and JSON forms."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, _coerce(f.name, getattr(self, f.name)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
        """Read TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN and the SIM_* variables."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("TWILIO_ACCOUNT_SID"):
            values["account_sid"] = env["TWILIO_ACCOUNT_SID"]
        if env.get("TWILIO_AUTH_TOKEN"):
            values["auth_token"] = env["TWILIO_AUTH_TOKEN"]
        for f in dataclasses.fields(cls):
            if f.name in ("account_sid", "auth_token"):
                continue  # one source of truth: the same variables the app reads
            raw = env.get("SIM_" + f.name.upper())
            if raw is not None and raw.strip() != "":
                values[f.name] = _parse_env(f.name, raw)
        return cls().updated(values)

    def updated(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """A copy with `changes` applied and checked (JSON-ish values: lists for sets, str/int
        for outcomes); raises ConfigError naming the bad key."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Options as JSON (the auth token is not echoed)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("auth_token", "vonage_api_secret", "vonage_signature_secret"):
                continue
            if isinstance(value, set):
                value = sorted(value)
            elif f.name == "outcomes":
                value = {k: v.to_json() for k, v in value.items()}
            out[f.name] = value
        return out


_RATES = {
    "failure_rate",
    "duplicate_rate",
    "reorder_rate",
    "drop_rate",
    "call_busy_share",
    "call_no_answer_share",
    "call_press_share",
}
_FLOATS = {
    "latency_ms",
    "callback_delay_ms",
    "callback_timeout_s",
    "callback_retry_ms",
    "call_seconds",
}
CALL_OUTCOMES = ("completed", "busy", "no-answer", "failed")
_INTS = {"mps", "callback_retries", "callback_concurrency", "max_messages", "twilio_status"}
_SETS = {"unsubscribed", "landlines", "allowed_senders"}


def _parse_env(key: str, raw: str) -> Any:
    """Env strings to option values: sets are comma-separated, outcomes `number=spec,...`."""
    if key in _SETS:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if key in ("outcomes", "call_outcomes"):
        pairs = {}
        for item in raw.split(","):
            if item.strip():
                number, sep, spec = item.partition("=")
                if not sep:
                    raise ConfigError(f"SIM_{key.upper()} item {item!r} is not number=outcome")
                pairs[number.strip()] = spec.strip()
        return pairs
    return raw.strip()


def _coerce(key: str, value: Any) -> Any:
    try:
        if key in _RATES:
            rate = float(value)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{key} must be between 0 and 1")
            return rate
        if key in _FLOATS:
            number = float(value)
            if number < 0:
                raise ConfigError(f"{key} must not be negative")
            return number
        if key in _INTS:
            integer = int(value)
            if integer < 0 or (key in {"callback_concurrency", "max_messages"} and integer < 1):
                raise ConfigError(f"{key} is out of range")
            return integer
        if key == "seed":
            return None if value in (None, "") else int(value)
        if key in _SETS:
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            return {str(v).strip() for v in value}
        if key == "outcomes":
            return {
                str(k).strip(): v if isinstance(v, Outcome) else Outcome.parse(v)
                for k, v in dict(value).items()
            }
        if key == "twilio_status" and value not in (0, 500, 503):
            raise ConfigError("twilio_status must be 0, 500 or 503")
        if key == "call_outcomes":
            return {str(k).strip(): _call_outcomes(v) for k, v in dict(value).items()}
        if key in ("inbound_url", "vonage_inbound_url"):
            return str(value) if value else None
        if key in {
            "account_sid",
            "auth_token",
            "service_from",
            "vonage_api_key",
            "vonage_api_secret",
            "vonage_signature_secret",
        }:
            if not value:
                raise ConfigError(f"{key} must not be empty")
            return str(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"bad value for {key}: {value!r}") from exc
    return value


def _call_outcomes(value: Any) -> list[str]:
    """ "busy;no-answer;completed" (or a list): how this number's calls end, in order (the
    last one repeats)."""
    items = value.split(";") if isinstance(value, str) else list(value)
    outcomes = [str(v).strip().lower() for v in items if str(v).strip()]
    bad = [o for o in outcomes if o not in CALL_OUTCOMES]
    if bad or not outcomes:
        raise ConfigError(f"call outcomes are {', '.join(CALL_OUTCOMES)} (got {value!r})")
    return outcomes


def known_delivery_error(code: int | None) -> str | None:
    """`error_message` for a delivery error code (None when unknown or no error)."""
    return DELIVERY_ERRORS.get(code) if code else None
