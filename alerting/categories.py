"""What an alert is about, how severe it is and what to do: plain tuples, importable without
the ORM (the command line's choices read them before any database code is loaded)."""

CATEGORIES = ("water", "evacuation", "fire", "flood", "gas", "info", "test")
LIFE_SAFETY = ("evacuation", "fire", "flood", "gas")
SEVERITIES = ("extreme", "severe", "moderate", "minor")
# CAP 1.2 <responseType>; an AllClear follow-up ends its parent (superseded_by)
RESPONSE_TYPES = (
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
)
