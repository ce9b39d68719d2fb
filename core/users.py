"""Dashboard users: salted scrypt password hashes and one role per project.

Roles, from most to least: ``admin`` and ``engineer`` read everything and annotate; ``viewer``
reads everything; ``finance`` reads usage and spend but never prompt or completion content
(the read layer leaves it out, see :func:`can_read_content`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import Membership, Project, User

ROLES = ("admin", "engineer", "finance", "viewer")
#: Roles that may add human scores from the dashboard.
ANNOTATING_ROLES = frozenset({"admin", "engineer"})
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
#: scrypt cost (2**15 · 8 · 128 B = 32 MiB per check): slow for a guesser, quick for a login.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A signed-in dashboard user and their role in each project they belong to."""

    user_id: int
    email: str
    roles: dict[int, str]


def can_read_content(role: str) -> bool:
    """Whether ``role`` may see prompts, completions, documents and raw payloads."""
    return role != "finance"


def can_annotate(role: str) -> bool:
    return role in ANNOTATING_ROLES


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInputError(
            f"a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` value (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD_CHARS:
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def any_users(session: Session) -> bool:
    """Whether sign-in is on: it is as soon as one active user exists."""
    return bool(session.scalar(select(exists().where(User.disabled_at.is_(None)))))


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise InvalidInputError("an email address is needed")
    return email


def create_user(
    session: Session, email: str, project: Project, role: str, password: str | None
) -> tuple[User, bool]:
    """Give ``email`` the ``role`` in ``project``, creating the user when new.

    A new user needs ``password``; an existing user keeps theirs (pass None) and gets or
    changes their role in this project. The flag says whether the user was created.
    """
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {list(ROLES)}")
    email = _normal_email(email)
    user = session.scalar(select(User).where(User.email == email))
    created = user is None
    if user is None:
        if password is None:
            raise InvalidInputError("a new user needs a password")
        user = User(email=email, password_hash=hash_password(password))
        session.add(user)
        session.flush()
    membership = session.get(Membership, (project.id, user.id))
    if membership is None:
        session.add(Membership(project_id=project.id, user_id=user.id, role=role))
    else:
        membership.role = role
    session.flush()
    return user, created


def sign_in(session: Session, email: str, password: str) -> SignedIn | None:
    """The user for these credentials, or None (unknown, disabled or wrong password alike)."""
    try:
        email = _normal_email(email)
    except InvalidInputError:
        return None
    user = session.scalar(select(User).where(User.email == email))
    if user is None or user.disabled_at is not None:
        verify_password(password, _DUMMY_HASH)  # same work either way: no user enumeration
        return None
    if not verify_password(password, user.password_hash):
        return None
    rows = session.execute(select(Membership.project_id, Membership.role).where(
        Membership.user_id == user.id))  # fmt: skip
    return SignedIn(user.id, user.email, {int(p): str(r) for p, r in rows})


def list_users(session: Session) -> list[tuple[str, str, str]]:
    """``(email, project name, role)`` for every membership, by email then project."""
    query = (
        select(User.email, Project.name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .join(Project, Project.id == Membership.project_id)
        .order_by(User.email, Project.name)
    )
    return [(e, p, r) for e, p, r in session.execute(query)]


_DUMMY_HASH = f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(b'0' * 16)}${_b64(b'0' * 32)}"
