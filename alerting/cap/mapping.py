"""How our alert fields map to CAP 1.2's code lists: one table per field."""

from __future__ import annotations

# CAP <category> (one or more) per alert category
CATEGORIES: dict[str, tuple[str, ...]] = {
    "water": ("Infra",),
    "evacuation": ("Safety", "Rescue"),
    "fire": ("Fire",),
    "flood": ("Met", "Geo"),
    "gas": ("Safety",),
    "info": ("Other",),
    "test": ("Other",),
}

# CAP <responseType> when the alert does not name one
RESPONSE_TYPES: dict[str, str] = {
    "water": "Prepare",
    "evacuation": "Evacuate",
    "fire": "Avoid",
    "flood": "Prepare",
    "gas": "Shelter",
    "info": "None",
    "test": "None",
}

SEVERITIES = {"extreme": "Extreme", "severe": "Severe", "moderate": "Moderate", "minor": "Minor"}
