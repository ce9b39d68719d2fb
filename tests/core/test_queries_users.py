"""Dashboard users: salted scrypt hashes, sign-in, roles per project, the ``users`` CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cli.main import cli
from core import keys, users
from core.errors import InvalidInputError
from core.models import Project, User


def test_a_password_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    first, second = users.hash_password("correct horse"), users.hash_password("correct horse")
    assert first.startswith("scrypt$")
    assert first != second  # a fresh salt each time
    assert users.verify_password("correct horse", first)
    assert not users.verify_password("correct horsf", first)
    assert not users.verify_password("correct horse", "md5$nothing")


def test_a_short_password_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        users.hash_password("short")


def test_sign_in_returns_the_roles_per_project(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        other = keys.create_project(session, "other")
        users.create_user(session, "Ana@Example.com", project, "finance", "s3cret-pass")
        _, created = users.create_user(session, "ana@example.com", other, "engineer", None)
        assert not created
    with session_factory() as session:
        assert users.any_users(session)
        signed = users.sign_in(session, " ANA@example.com", "s3cret-pass")
        assert signed is not None
        assert signed.roles == {project.id: "finance", other.id: "engineer"}
        assert users.sign_in(session, "ana@example.com", "wrong-pass") is None
        assert users.sign_in(session, "bob@example.com", "s3cret-pass") is None


def test_roles_decide_content_and_annotation() -> None:
    assert [users.can_read_content(r) for r in users.ROLES] == [True, True, False, True]
    assert [users.can_annotate(r) for r in users.ROLES] == [True, True, False, False]


def test_an_unknown_role_or_a_new_user_without_password_is_refused(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session, pytest.raises(InvalidInputError):
        users.create_user(session, "a@b.c", project, "owner", "long-enough")
    with session_factory() as session, pytest.raises(InvalidInputError):
        users.create_user(session, "a@b.c", project, "viewer", None)


def test_cli_creates_a_user_from_stdin_and_never_prints_the_hash(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    session_factory: sessionmaker[Session],
    project: Project,
) -> None:
    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    runner = CliRunner()
    args = ["users", "create", "fin@example.com", "--project", project.name, "--role", "finance"]
    result = runner.invoke(cli, [*args, "--password-stdin"], input="pa55word-here\n")
    assert result.exit_code == 0, result.output
    assert "created user fin@example.com with role finance" in result.output
    listed = runner.invoke(cli, ["users", "list"])
    assert "fin@example.com\ttest-project\tfinance" in listed.output
    with session_factory() as session:
        stored = session.scalar(select(User.password_hash))
    assert stored is not None
    assert stored not in result.output + listed.output
    assert users.verify_password("pa55word-here", stored)
