"""Configuration read from the environment, with embedded defaults for a fresh machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields
from pathlib import Path

from alerting.simulator import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_VONAGE_API_KEY,
    DEFAULT_VONAGE_API_SECRET,
    DEFAULT_VONAGE_SIGNATURE_SECRET,
)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


class ConfigError(RuntimeError):
    """A configuration the service refuses to start with; the message says what to set."""


def _production() -> bool:
    return "production" in (_env("ALERTING_ENV", "").lower(), _env("FLASK_ENV", "").lower())


def _refuse_unsafe(settings: Settings) -> None:
    """Fail closed: a production process must not quietly fall back to the simulator or to a
    secret key made up on one machine, and nobody may send for real with published test keys."""
    if settings.sms_provider == "twilio" and (
        settings.twilio_account_sid == DEFAULT_ACCOUNT_SID
        or settings.twilio_auth_token == DEFAULT_AUTH_TOKEN
    ):
        raise ConfigError(
            "SMS_PROVIDER=twilio with the simulator's published TWILIO_ACCOUNT_SID or "
            "TWILIO_AUTH_TOKEN: set the account's own credentials"
        )
    if settings.sms_provider == "twilio" and {
        settings.vonage_api_key,
        settings.vonage_api_secret,
        settings.vonage_signature_secret,
    } & {DEFAULT_VONAGE_API_KEY, DEFAULT_VONAGE_API_SECRET, DEFAULT_VONAGE_SIGNATURE_SECRET}:
        raise ConfigError(
            "SMS_PROVIDER=twilio with the simulator's published VONAGE_API_KEY, "
            "VONAGE_API_SECRET or VONAGE_SIGNATURE_SECRET: set the account's own credentials"
        )
    if not _production():
        return
    if not os.environ.get("SMS_PROVIDER", "").strip():
        raise ConfigError(
            "SMS_PROVIDER is not set and this is production (ALERTING_ENV or FLASK_ENV): "
            "set SMS_PROVIDER=twilio (or simulator, on purpose)"
        )
    if not os.environ.get("SECRET_KEY", "").strip():
        raise ConfigError(
            "SECRET_KEY is not set and this is production (ALERTING_ENV or FLASK_ENV): set the "
            "same long random SECRET_KEY on every web and worker process"
        )


def _secret_key(instance_path: Path) -> str:
    """SECRET_KEY, else a random key kept in the instance folder so sessions survive restarts."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


PROVIDER_NAMES = ("twilio", "vonage")


def parse_providers(value: str) -> tuple[tuple[str, float], ...]:
    """SMS_PROVIDERS: `twilio,vonage` (equal weights) or `twilio:3,vonage:1`."""
    out: dict[str, float] = {}
    for item in value.split(","):
        name, _, weight = item.strip().partition(":")
        name = name.strip().lower()
        if not name:
            continue
        if name not in PROVIDER_NAMES:
            raise ConfigError(f"SMS_PROVIDERS: unknown provider {name!r} (twilio or vonage)")
        try:
            out[name] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise ConfigError(
                f"SMS_PROVIDERS: weight {weight!r} of {name} is not a number"
            ) from None
        if out[name] <= 0:
            raise ConfigError(f"SMS_PROVIDERS: the weight of {name} must be positive")
    if not out:
        raise ConfigError("SMS_PROVIDERS names no provider (twilio, vonage)")
    return tuple(out.items())


@dataclass
class Settings:
    """Every setting of the service; README.md documents each environment variable."""

    instance_path: Path
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:5000"
    default_region: str = "NO"
    default_language: str = "nb"
    max_area_km2: float = 5000.0
    max_area_vertices: int = 20_000  # more is refused before any shape is built (alerting.areas)
    sms_provider: str = "simulator"
    sms_rate_per_second: float = 30.0
    # sending (alerting.sending): local time zone for quiet hours, provider timeout and
    # concurrency, messages per send job, how long a claim may go unanswered, the sweep period
    timezone: str = "Europe/Oslo"
    sms_timeout_s: float = 10.0
    sms_concurrency: int = 32
    send_batch: int = 1000
    claim_timeout_s: float = 60.0
    sweep_interval_s: float = 5.0
    # provider throttling / 5xx keep a message waiting this long after its alert started
    # (alerting.sending.deadline): life-safety categories, then water/info/test
    send_deadline_minutes: float = 60.0
    send_deadline_bulk_minutes: float = 1440.0
    receipt_timeout_s: float = 600.0
    # every worker's receipt drain thread looks at the buffer this often (0: no thread)
    receipt_drain_interval_s: float = 0.2
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = "Alerting"
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = ""
    simulator_url: str = "http://127.0.0.1:8099"
    # second SMS provider (alerting.sending.providers, alerting.sending.vonage): the providers
    # with weights, the error share that demotes one, Vonage's credentials, sender and rate
    sms_providers: tuple[tuple[str, float], ...] = (("twilio", 1.0),)
    provider_error_threshold: float = 0.5
    vonage_api_key: str = ""
    vonage_api_secret: str = ""
    vonage_signature_secret: str = ""
    vonage_from: str = "Alerting"
    vonage_base_url: str = ""
    vonage_rate_per_second: float = 30.0
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap contributors"  # the credit the tiles' licence asks
    login_lockout_attempts: int = 5
    login_lockout_minutes: float = 15.0
    # resident sign-in codes (alerting.portal): abuse limits per rolling hour, lifetime, attempts
    signin_codes_per_number: int = 3
    signin_codes_per_ip: int = 10
    signin_codes_per_hour: int = 200
    signin_code_minutes: int = 10
    signin_code_attempts: int = 5
    # public "is my address inside?" lookups per client IP per rolling hour (alerting.portal)
    address_checks_per_ip: int = 120
    # proxy hops in front of the app whose X-Forwarded-For/-Proto are trusted (0: none)
    trusted_proxies: int = 0
    # privacy (alerting.retention): days before an alert's phone numbers become HMACs
    retention_days: int = 90
    # CAP feeds a worker watches (alerting.cap.feeds): URLs, the saved area they are cut to,
    # and how often
    cap_feeds: tuple[str, ...] = ()
    cap_feed_boundary: str = ""
    cap_feed_interval_s: float = 300.0
    # the saved area (the municipality) every imported place must lie in; empty: places far
    # from the register's median are refused instead
    municipality_boundary: str = ""
    # voice (alerting.sending.voice): landlines are called through Twilio Programmable Voice
    # from this caller id, at this rate, with at most this many calls in progress at once
    # (every worker together), busy / unanswered calls tried this often this many minutes apart
    voice_from: str = "+15005550006"
    voice_rate_per_second: float = 5.0
    voice_max_concurrent: int = 10
    voice_max_tries: int = 3
    voice_retry_minutes: float = 5.0

    @classmethod
    def from_env(cls, instance_path: Path) -> Settings:
        provider = _env("SMS_PROVIDER", "simulator")
        default_sid = DEFAULT_ACCOUNT_SID if provider == "simulator" else ""
        default_token = DEFAULT_AUTH_TOKEN if provider == "simulator" else ""
        default_vonage = (
            (DEFAULT_VONAGE_API_KEY, DEFAULT_VONAGE_API_SECRET, DEFAULT_VONAGE_SIGNATURE_SECRET)
            if provider == "simulator"
            else ("", "", "")
        )
        settings = cls(
            instance_path=instance_path,
            database_url=_env("DATABASE_URL", f"sqlite:///{instance_path / 'alerting.db'}"),
            redis_url=_env("REDIS_URL", ""),
            secret_key=_secret_key(instance_path),
            public_url=_env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            default_region=_env("DEFAULT_REGION", "NO").upper(),
            default_language=_env("DEFAULT_LANGUAGE", "nb"),
            max_area_km2=_env_float("MAX_AREA_KM2", 5000.0),
            max_area_vertices=int(_env("MAX_AREA_VERTICES", "20000")),
            sms_provider=provider,
            sms_rate_per_second=_env_float("SMS_RATE_PER_SECOND", 30.0),
            timezone=_env("TIMEZONE", "Europe/Oslo"),
            sms_timeout_s=_env_float("SMS_TIMEOUT", 10.0),
            sms_concurrency=int(_env("SMS_CONCURRENCY", "32")),
            send_batch=int(_env("SEND_BATCH", "1000")),
            claim_timeout_s=_env_float("CLAIM_TIMEOUT", 60.0),
            sweep_interval_s=_env_float("SWEEP_INTERVAL", 5.0),
            send_deadline_minutes=_env_float("SEND_DEADLINE_MINUTES", 60.0),
            send_deadline_bulk_minutes=_env_float("SEND_DEADLINE_BULK_MINUTES", 1440.0),
            receipt_timeout_s=_env_float("RECEIPT_TIMEOUT", 600.0),
            receipt_drain_interval_s=_env_float("RECEIPT_DRAIN_INTERVAL", 0.2),
            twilio_account_sid=_env("TWILIO_ACCOUNT_SID", default_sid),
            twilio_auth_token=_env("TWILIO_AUTH_TOKEN", default_token),
            twilio_from=_env("TWILIO_FROM", "Alerting"),
            twilio_messaging_service_sid=_env("TWILIO_MESSAGING_SERVICE_SID", ""),
            twilio_base_url=_env("TWILIO_BASE_URL", ""),
            simulator_url=_env("SIMULATOR_URL", "http://127.0.0.1:8099").rstrip("/"),
            # second SMS provider
            sms_providers=parse_providers(_env("SMS_PROVIDERS", "twilio")),
            provider_error_threshold=_env_float("PROVIDER_ERROR_THRESHOLD", 0.5),
            vonage_api_key=_env("VONAGE_API_KEY", default_vonage[0]),
            vonage_api_secret=_env("VONAGE_API_SECRET", default_vonage[1]),
            vonage_signature_secret=_env("VONAGE_SIGNATURE_SECRET", default_vonage[2]),
            vonage_from=_env("VONAGE_FROM", "Alerting"),
            vonage_base_url=_env("VONAGE_BASE_URL", "").rstrip("/"),
            vonage_rate_per_second=_env_float("VONAGE_RATE_PER_SECOND", 30.0),
            tile_url=_env("TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
            tile_attribution=_env("TILE_ATTRIBUTION", "© OpenStreetMap contributors"),
            login_lockout_attempts=int(_env("LOGIN_LOCKOUT_ATTEMPTS", "5")),
            login_lockout_minutes=_env_float("LOGIN_LOCKOUT_MINUTES", 15.0),
            signin_codes_per_number=int(_env("SIGNIN_CODES_PER_NUMBER", "3")),
            signin_codes_per_ip=int(_env("SIGNIN_CODES_PER_IP", "10")),
            signin_codes_per_hour=int(_env("SIGNIN_CODES_PER_HOUR", "200")),
            signin_code_minutes=int(_env("SIGNIN_CODE_MINUTES", "10")),
            signin_code_attempts=int(_env("SIGNIN_CODE_ATTEMPTS", "5")),
            address_checks_per_ip=int(_env("ADDRESS_CHECKS_PER_IP", "120")),
            trusted_proxies=int(_env("TRUSTED_PROXIES", "0")),
            retention_days=int(_env("RETENTION_DAYS", "90")),
            cap_feeds=tuple(u.strip() for u in _env("CAP_FEEDS", "").split(",") if u.strip()),
            cap_feed_boundary=_env("CAP_FEED_BOUNDARY", ""),
            cap_feed_interval_s=_env_float("CAP_FEED_INTERVAL", 300.0),
            municipality_boundary=_env("MUNICIPALITY_BOUNDARY", ""),
            voice_from=_env("VOICE_FROM", "+15005550006"),
            voice_rate_per_second=_env_float("VOICE_RATE_PER_SECOND", 5.0),
            voice_max_concurrent=int(_env("VOICE_MAX_CONCURRENT", "10")),
            voice_max_tries=int(_env("VOICE_MAX_TRIES", "3")),
            voice_retry_minutes=_env_float("VOICE_RETRY_MINUTES", 5.0),
        )
        _refuse_unsafe(settings)
        return settings

    def replace(self, **changes: object) -> Settings:
        """A copy with some settings changed (tests build apps this way)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)
