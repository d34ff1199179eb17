"""The data model; import every table from here."""

from alerting.models.alerts import (
    ALERT_STATES,
    CATEGORIES,
    FINAL_MESSAGE_STATES,
    LIFE_SAFETY,
    MESSAGE_STATES,
    SEVERITIES,
    Alert,
    Area,
    AreaVersion,
    DeliveryEvent,
    InboundMessage,
    Message,
)
from alerting.models.base import Base, utcnow
from alerting.models.residents import (
    LOCATION_LABELS,
    ConsentEvent,
    Location,
    OptOut,
    RegisterVersion,
    Resident,
    Suppression,
    VerificationCode,
)
from alerting.models.staff import ROLES, ApiKey, AuditEvent, StaffUser

__all__ = [
    "ALERT_STATES",
    "CATEGORIES",
    "FINAL_MESSAGE_STATES",
    "LIFE_SAFETY",
    "LOCATION_LABELS",
    "MESSAGE_STATES",
    "ROLES",
    "SEVERITIES",
    "Alert",
    "ApiKey",
    "Area",
    "AreaVersion",
    "AuditEvent",
    "Base",
    "ConsentEvent",
    "DeliveryEvent",
    "InboundMessage",
    "Location",
    "Message",
    "OptOut",
    "RegisterVersion",
    "Resident",
    "StaffUser",
    "Suppression",
    "VerificationCode",
    "utcnow",
]
