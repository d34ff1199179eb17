"""Who is asking: staff sessions (flask-login) or API keys, and the role each route needs."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import abort, g, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, current_user
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerting.db import db
from alerting.models import ROLES, ApiKey, StaffUser, utcnow

login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.session_protection = "basic"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


SESSION_VERSION = "staff_session_version"


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    """The signed-in user, unless the account's sessions were ended since this one began."""
    user = db().get(StaffUser, int(user_id))
    if user is None or not user.active:
        return None
    return user if session.get(SESSION_VERSION) == user.session_version else None


def remember_session_version(user: StaffUser) -> None:
    """Tie the new session to the account's current session version (see `end_sessions`)."""
    session[SESSION_VERSION] = user.session_version


def end_sessions(s: Session, user_id: int) -> None:
    """End every session of the account, on every device: the cookie alone proves nothing now.

    Flask's sessions live in a signed cookie, so forgetting one server-side is impossible; instead
    the version each cookie carries stops matching the account's. The caller commits.
    """
    s.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id)
        .values(session_version=StaffUser.session_version + 1)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Principal:
    """Whoever made the request, as the audit log and role checks see them."""

    audit_name: str
    role: str
    staff_user_id: int | None = None

    def has_role(self, minimum: str) -> bool:
        return role_at_least(self.role, minimum)


def role_at_least(role: str, minimum: str) -> bool:
    """The one role rule: roles are ordered (ROLES), each may do what those below it may."""
    return ROLES.index(role) >= ROLES.index(minimum)


def create_staff_user(session: Session, email: str, role: str, password: str) -> StaffUser:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ValueError("the password must have at least 10 characters")
    user = StaffUser(email=email.strip().lower(), role=role, password_hash=hash_password(password))
    session.add(user)
    return user


def _key_hash(key: str) -> str:
    # API keys are 256-bit random strings, so a fast hash is enough (no dictionary to attack)
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session,
    name: str,
    role: str = "operator",
    created_by: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Make a key; the clear key is returned once and never stored. The default role is the
    least one that can send (water, info): a stolen key should not evacuate a town."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("give the key a name")
    key = "alk_" + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name.strip(),
        prefix=key[:10],
        key_hash=_key_hash(key),
        role=role,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    return row, key


def api_key_state(key: ApiKey) -> str:
    """ "active", "revoked" or "expired", as the CLI and the admin page show it."""
    if key.revoked:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= utcnow():
        return "expired"
    return "active"


def end_of_day(day: date | None) -> datetime | None:
    """A key that expires on a day works until that day ends (UTC)."""
    if day is None:
        return None
    return datetime.combine(day, time.max).replace(microsecond=0)


def _api_key_principal(token: str) -> Principal | None:
    """The key's principal when it is known, not revoked and not expired; its use is recorded."""
    session = db()
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == _key_hash(token)))
    now = utcnow()
    if key is None or api_key_state(key) != "active":
        return None
    key.last_used_at = now
    session.commit()
    return Principal(audit_name=f"apikey:{key.name}", role=key.role)


def principal() -> Principal | None:
    """The caller of this request: a Bearer API key on /api/ routes, else the signed-in staff
    user. Keys are for machines: a key never opens the staff pages."""
    if "principal" in g:
        return g.principal
    found: Principal | None = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and request.path.startswith("/api/"):
        found = _api_key_principal(header[7:].strip())
        g.bearer = True
    elif current_user.is_authenticated:
        found = Principal(
            audit_name=current_user.email, role=current_user.role, staff_user_id=current_user.id
        )
    g.principal = found
    return found


def require_role(minimum: str, api: bool = False) -> Callable:
    """Refuse callers below `minimum`: 401 (API) or the sign-in page when anonymous, else 403."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            who = principal()
            if who is None:
                if api:
                    response = jsonify(
                        error="unauthorized",
                        detail="sign in, or send Authorization: Bearer <API key>",
                    )
                    response.status_code = 401
                    response.headers["WWW-Authenticate"] = "Bearer"
                    return response
                return redirect(url_for("staff.login", next=request.full_path))
            if not who.has_role(minimum):
                if api:
                    response = jsonify(error="forbidden", detail=f"this needs the {minimum} role")
                    response.status_code = 403
                    return response
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = minimum  # type: ignore[attr-defined]  (the API's description)
        return wrapped

    return decorate
