"""Exercises: an alert that reaches only the test group, every SMS marked as an exercise.

The test group is every active member of staff with a phone, wherever they are, and the residents
who volunteered for exercises (`residents.exercise_volunteer`, set in the portal) and have a place
inside the alert's area: an exercise rehearses one area's alert without alarming anyone else.
Opt-outs, declined categories and quiet hours apply as for any alert. Each body starts with
"EXERCISE: " in the recipient's own language (nb, nn, da "ØVELSE: ", sv "ÖVNING: "), on top of
whichever text planning chose for them. Exercises never show on /public and are counted apart.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerting import current
from alerting.areas import parse_area
from alerting.models import Alert, OptOut, Resident, StaffUser
from alerting.sending import planning
from alerting.sending.planning import Person

PREFIXES = {
    "nb": "ØVELSE: ",
    "nn": "ØVELSE: ",
    "no": "ØVELSE: ",
    "da": "ØVELSE: ",
    "sv": "ÖVNING: ",
}
DEFAULT_PREFIX = "EXERCISE: "


def prefix(language: str) -> str:
    """The exercise mark in `language` (English for every language without its own)."""
    return PREFIXES.get((language or "").split("-")[0].lower(), DEFAULT_PREFIX)


def test_group(session: Session, area: BaseGeometry) -> dict[str, list[Person]]:
    """phone → the people on it: volunteers inside `area` (reachable phones) and staff phones."""
    inside = [int(i) for i in current.register().target(area).resident_ids]
    volunteers: set[int] = set()
    for i in range(0, len(inside), planning.LOAD_CHUNK):
        volunteers.update(
            session.scalars(
                select(Resident.id).where(
                    Resident.id.in_(inside[i : i + planning.LOAD_CHUNK]),
                    Resident.exercise_volunteer,
                    Resident.reachable,
                )
            )
        )
    groups: dict[str, list[Person]] = {}
    for phone, _reachable, person in planning.load_people(session, volunteers).values():
        groups.setdefault(phone, []).append(person)
    staff = session.execute(
        select(StaffUser.phone, StaffUser.language).where(
            StaffUser.active, StaffUser.phone.is_not(None), StaffUser.phone != ""
        )
    )
    for phone, language in staff:
        groups.setdefault(phone, []).insert(0, Person(0, language, frozenset(), False, None, None))
    return groups


def test_group_counts(session: Session, area: BaseGeometry) -> dict[str, int]:
    """What the preview and the confirmation show for an exercise: phones of the test group,
    how many belong to staff and to volunteers, and how many of them opted out."""
    groups = test_group(session, area)
    opted = set(session.scalars(select(OptOut.phone).where(OptOut.phone.in_(list(groups)))))
    staff = sum(1 for people in groups.values() if any(p.id == 0 for p in people))
    return {
        "phones": len(groups),
        "staff": staff,
        "volunteers": len(groups) - staff,
        "opted_out": len(opted),
    }


def _language(people: list[Person], resident_id: int | None) -> str:
    """The language of the person planning chose for the phone (staff have no resident id)."""
    return next((p.language for p in people if (p.id or None) == resident_id), people[0].language)


def plan_exercise(session: Session, alert: Alert) -> None:
    """Plan an exercise (or a follow-up to one, limited to the parent's recipients): message rows
    for the test group only, each body prefixed, then the same writer and finish as any alert."""
    groups = test_group(session, parse_area(alert.area_geojson))
    if alert.parent_id is not None:
        keep = {row.phone for row in session.execute(planning.follow_up_recipients(alert))}
        groups = {phone: people for phone, people in groups.items() if phone in keep}
    opted = set(session.scalars(select(OptOut.phone)))
    zone = ZoneInfo(current.settings().timezone)
    rows, declined = planning.message_rows(alert, groups, opted, zone)
    for row in rows:
        row["body"] = prefix(_language(groups[row["phone"]], row["resident_id"])) + row["body"]
    planning.PlanWriter(alert).write(rows)
    planning.finish_plan(session, alert, declined, exercise=True)
