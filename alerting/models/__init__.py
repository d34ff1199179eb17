"""The data model; import every table from here."""

from alerting.models.alerts import (
    ALERT_STATES,
    CATEGORIES,
    FINAL_MESSAGE_STATES,
    LIFE_SAFETY,
    MESSAGE_STATES,
    RESPONSE_TYPES,
    SEVERITIES,
    Alert,
    Area,
    AreaVersion,
    DeliveryEvent,
    InboundMessage,
    Message,
)
from alerting.models.base import Base, utcnow
from alerting.models.cap import CapMessage
from alerting.models.residents import (
    LOCATION_LABELS,
    ConsentEvent,
    Location,
    OptOut,
    RegisterChange,
    RegisterVersion,
    Resident,
    Suppression,
    VerificationCode,
)
from alerting.models.staff import ROLES, ApiKey, AppSetting, AuditEvent, StaffUser
from alerting.models.triggers import Trigger, TriggerFiring

__all__ = [
    "ALERT_STATES",
    "CATEGORIES",
    "FINAL_MESSAGE_STATES",
    "LIFE_SAFETY",
    "LOCATION_LABELS",
    "MESSAGE_STATES",
    "RESPONSE_TYPES",
    "ROLES",
    "SEVERITIES",
    "Alert",
    "ApiKey",
    "AppSetting",
    "Area",
    "AreaVersion",
    "AuditEvent",
    "Base",
    "CapMessage",
    "ConsentEvent",
    "DeliveryEvent",
    "InboundMessage",
    "Location",
    "Message",
    "OptOut",
    "RegisterChange",
    "RegisterVersion",
    "Resident",
    "StaffUser",
    "Trigger",
    "TriggerFiring",
    "Suppression",
    "VerificationCode",
    "utcnow",
]
