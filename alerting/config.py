"""Configuration read from the environment, with embedded defaults for a fresh machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _env_float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


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


# TODO(lead): import these from alerting.simulator once it lands
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "simulator-auth-token"


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
    sms_provider: str = "simulator"
    sms_rate_per_second: float = 30.0
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = "Alerting"
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = ""
    simulator_url: str = "http://127.0.0.1:8099"
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

    @classmethod
    def from_env(cls, instance_path: Path) -> Settings:
        provider = _env("SMS_PROVIDER", "simulator")
        default_sid = DEFAULT_ACCOUNT_SID if provider == "simulator" else ""
        default_token = DEFAULT_AUTH_TOKEN if provider == "simulator" else ""
        return cls(
            instance_path=instance_path,
            database_url=_env("DATABASE_URL", f"sqlite:///{instance_path / 'alerting.db'}"),
            redis_url=_env("REDIS_URL", ""),
            secret_key=_secret_key(instance_path),
            public_url=_env("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            default_region=_env("DEFAULT_REGION", "NO").upper(),
            default_language=_env("DEFAULT_LANGUAGE", "nb"),
            max_area_km2=_env_float("MAX_AREA_KM2", 5000.0),
            sms_provider=provider,
            sms_rate_per_second=_env_float("SMS_RATE_PER_SECOND", 30.0),
            twilio_account_sid=_env("TWILIO_ACCOUNT_SID", default_sid),
            twilio_auth_token=_env("TWILIO_AUTH_TOKEN", default_token),
            twilio_from=_env("TWILIO_FROM", "Alerting"),
            twilio_messaging_service_sid=_env("TWILIO_MESSAGING_SERVICE_SID", ""),
            twilio_base_url=_env("TWILIO_BASE_URL", ""),
            simulator_url=_env("SIMULATOR_URL", "http://127.0.0.1:8099").rstrip("/"),
            tile_url=_env("TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
        )

    def replace(self, **changes: object) -> Settings:
        """A copy with some settings changed (tests build apps this way)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)
