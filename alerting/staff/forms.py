"""The staff UI's forms (Flask-WTF: every one carries a CSRF token)."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from alerting.i18n import LOCALE_NAMES
from alerting.models import CATEGORIES, ROLES, SEVERITIES


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class ImportForm(FlaskForm):
    file = FileField(_l("Register file (CSV or GeoJSON)"), validators=[FileRequired()])
    crs = StringField(
        _l("Coordinate system of easting/northing columns (e.g. EPSG:25832)"),
        validators=[Optional(), Length(max=64)],
    )
    allow_outside = BooleanField(_l("Import rows far from the others too"))


class StaffUserForm(FlaskForm):
    email = EmailField(
        _l("Email"), validators=[DataRequired(), Regexp(r"^[^@\s]+@[^@\s]+$"), Length(max=254)]
    )
    role = SelectField(_l("Role"), choices=[SelectChoice(r, r) for r in ROLES])
    language = SelectField(
        _l("Language"), choices=[SelectChoice(k, v) for k, v in LOCALE_NAMES.items()]
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10)])


class StaffUserEditForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(r, r) for r in ROLES])
    active = BooleanField(_l("Active"))
    unlock = BooleanField(_l("Clear lock-out"))
    password = PasswordField(_l("New password (optional)"), validators=[Optional(), Length(min=10)])
    phone = StringField(_l("Phone (exercises, approval requests)"), validators=[Length(max=30)])
    on_duty = BooleanField(_l("On duty (gets approval requests by SMS)"))


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, r) for r in ROLES], default="operator")
    expires = DateField(_l("Last day it works (optional)"), validators=[Optional()])


class ApiKeyExpiryForm(FlaskForm):
    expires = DateField(_l("Last day it works (empty: never expires)"), validators=[Optional()])


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ApprovalPolicyForm(FlaskForm):
    """Which alerts need a second person's approval (admins)."""

    categories = CheckboxesField(_l("Categories"), choices=[SelectChoice(c, c) for c in CATEGORIES])
    severities = CheckboxesField(_l("Severities"), choices=[SelectChoice(s, s) for s in SEVERITIES])
    self_approve_exercises = BooleanField(_l("Authors may approve their own exercises"))


class ActionForm(FlaskForm):
    """A button that changes something (cancel, resend, delete): only the CSRF token."""


def confirmed() -> bool:
    """An irreversible action's form says yes (templates/staff/_confirm.html: the dialog, or
    the ticked box without JS); a bare POST is refused."""
    return request.form.get("confirmed") == "1"


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(_l("Phone or name"), validators=[Optional(), Length(max=100)])


class TriggerForm(FlaskForm):
    """A trigger set up by an admin; the area choices are the saved areas (set by the view)."""

    name = StringField(
        _l("Name (in the URL the sensor calls)"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z0-9][a-z0-9_-]{0,63}$",
                message=_l("Use 1-64 lower-case letters, digits, - and _."),
            ),
        ],
    )
    area_id = SelectField(_l("Saved area"), coerce=int, validators=[DataRequired()])
    category = SelectField(_l("Category"), choices=[SelectChoice(c, c) for c in CATEGORIES])
    severity = SelectField(_l("Severity"), choices=[SelectChoice(s, s) for s in SEVERITIES])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    text = TextAreaField(
        _l("Text: {name} takes the value the call sends; a [part] without its values is left out"),
        validators=[DataRequired(), Length(max=1600)],
    )
    auto_send = BooleanField(_l("Send at once (otherwise a draft waits for staff)"))
    life_safety_auto_send = BooleanField(
        _l("Also for life-safety categories: send without a person looking first")
    )
    dedup_minutes = IntegerField(
        _l("Minutes a second call returns the alert in force instead of a new one"),
        default=60,
        validators=[NumberRange(min=0, max=7 * 24 * 60)],
    )
