"""Projects and API keys. Secrets are shown once and stored as HMAC-SHA256 with a pepper."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.errors import InvalidInputError, NotFoundError
from core.models import ApiKey, Project

KEY_PREFIX = "tt_"
SCOPES = frozenset({"ingest", "read", "admin"})
DEFAULT_PROJECT = "default"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: one project, some scopes."""

    project_id: int
    key_id: int
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key; ``secret`` exists only here and is never stored."""

    id: int
    project_id: int
    secret: str
    scopes: tuple[str, ...]


def hash_key(secret: str, pepper: str) -> str:
    """HMAC-SHA256 of the secret under the server's pepper, hex encoded."""
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def get_project(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise NotFoundError(f"no project named {name!r}")
    return project


def create_project(session: Session, name: str) -> Project:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("a project name is 1 to 200 characters")
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise InvalidInputError(f"project {name!r} already exists")
    project = Project(name=name)
    session.add(project)
    session.flush()
    return project


def ensure_project(session: Session, name: str = DEFAULT_PROJECT) -> tuple[Project, bool]:
    """The project called ``name``, created if missing; the flag says whether it was created."""
    project = session.scalar(select(Project).where(Project.name == name))
    if project is not None:
        return project, False
    return create_project(session, name), True


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.id)))


def create_key(
    session: Session, project: Project, scopes: tuple[str, ...], pepper: str, name: str = ""
) -> NewKey:
    """Create a key for ``project``; the secret is returned once and only its HMAC is stored."""
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise InvalidInputError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        project_id=project.id,
        name=name,
        prefix=secret[:10],
        key_hash=hash_key(secret, pepper),
        scopes=sorted(set(scopes)),
    )
    session.add(row)
    session.flush()
    return NewKey(row.id, project.id, secret, tuple(row.scopes))


def list_keys(session: Session, project: Project) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.project_id == project.id).order_by(ApiKey.id)
    return list(session.scalars(query))


def revoke_key(session: Session, project: Project, key_id: int) -> None:
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.project_id == project.id, ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"no active key {key_id} in project {project.name!r}")


def authenticate(session: Session, secret: str, pepper: str) -> Principal | None:
    """The principal for ``secret``, or None for an unknown or revoked key.

    The lookup is by the HMAC (an index probe), so the comparison that matters happens on a
    digest the caller cannot steer; a final ``compare_digest`` keeps it constant-time anyway.
    """
    digest = hash_key(secret, pepper)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, digest):
        return None
    return Principal(row.project_id, row.id, frozenset(row.scopes))
