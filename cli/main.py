"""Command-line entry point: ``tokentrail up|migrate|projects|keys|prices|demo``."""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from core import keys as keys_api
from core import users as users_api
from core.db import make_engine, make_session_factory
from core.errors import TokenTrailError
from core.migrate import upgrade
from core.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="TOKENTRAIL_DATA_DIR",
        default=None,
        help="Where the embedded PostgreSQL keeps its data (default: the user data directory).",
    )(func)


def load_settings(data_dir: Path | None) -> Settings:
    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir.expanduser().resolve()})
    return settings


def with_session(data_dir: Path | None, action: Callable[[Any, Settings], Any]) -> Any:
    """Run ``action(session, settings)`` in one transaction against the migrated database."""
    from cli.database import database

    settings = load_settings(data_dir)
    with database(settings) as url:
        upgrade(url)
        engine = make_engine(settings.model_copy(update={"database_url": url}), pool_size=1)
        try:
            with make_session_factory(engine).begin() as session:
                return action(session, settings)
        finally:
            engine.dispose()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def cli(verbose: bool) -> None:
    """TokenTrail: LLM observability on PostgreSQL."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@cli.command()
@data_dir_option
def migrate(data_dir: Path | None) -> None:
    """Create or upgrade the schema."""
    from cli.database import database

    with database(load_settings(data_dir)) as url:
        upgrade(url)
    click.echo("database is up to date")


@cli.group()
def projects() -> None:
    """Create and list projects."""


@projects.command("create")
@click.argument("name")
@data_dir_option
def projects_create(name: str, data_dir: Path | None) -> None:
    """Create a project called NAME."""
    project_id = with_session(data_dir, lambda s, _: keys_api.create_project(s, name).id)
    click.echo(f"created project {name!r} (id {project_id})")


@projects.command("list")
@data_dir_option
def projects_list(data_dir: Path | None) -> None:
    """List projects."""
    rows = with_session(
        data_dir, lambda s, _: [(p.id, p.name, p.created_at) for p in keys_api.list_projects(s)]
    )
    for project_id, name, created in rows:
        click.echo(f"{project_id}\t{name}\t{created:%Y-%m-%d %H:%M}")


@cli.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys."""


@keys_group.command("create")
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@click.option(
    "--scope", "scopes", multiple=True, type=click.Choice(sorted(keys_api.SCOPES)),
    default=("ingest", "read"), show_default=True,
)  # fmt: skip
@click.option("--name", default="", help="A label to recognise the key by.")
@data_dir_option
def keys_create(
    project_name: str, scopes: tuple[str, ...], name: str, data_dir: Path | None
) -> None:
    """Create a key; the secret is printed once, alone on the last line."""

    def action(session: Any, settings: Settings) -> keys_api.NewKey:
        project = keys_api.get_project(session, project_name)
        return keys_api.create_key(
            session, project, scopes, settings.key_pepper.get_secret_value(), name
        )

    new = with_session(data_dir, action)
    click.echo(
        f"created key {new.id} for project {project_name!r} with scopes {','.join(new.scopes)}"
    )
    click.echo("store it now; it is not shown again:")
    click.echo(new.secret)


@keys_group.command("list")
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@data_dir_option
def keys_list(project_name: str, data_dir: Path | None) -> None:
    """List a project's keys (never their secrets)."""

    def action(session: Any, _: Settings) -> list[tuple[Any, ...]]:
        project = keys_api.get_project(session, project_name)
        return [
            (k.id, k.prefix + "…", ",".join(k.scopes), k.name,
             "revoked" if k.revoked_at else "active")
            for k in keys_api.list_keys(session, project)
        ]  # fmt: skip

    for row in with_session(data_dir, action):
        click.echo("\t".join(str(v) for v in row))


@keys_group.command("revoke")
@click.argument("key_id", type=int)
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@data_dir_option
def keys_revoke(key_id: int, project_name: str, data_dir: Path | None) -> None:
    """Revoke key KEY_ID; collectors stop accepting it within seconds."""
    with_session(
        data_dir,
        lambda s, _: keys_api.revoke_key(s, keys_api.get_project(s, project_name), key_id),
    )
    click.echo(f"revoked key {key_id}")


@cli.group("prices")
def prices_group() -> None:
    """List, set and delete a project's price overrides (USD per million tokens)."""


@prices_group.command("list")
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@data_dir_option
def prices_list(project_name: str, data_dir: Path | None) -> None:
    """List the project's overrides as tab-separated lines."""
    from core import prices as prices_api

    def action(session: Any, _: Settings) -> list[str]:
        project = keys_api.get_project(session, project_name)
        rows = prices_api.list_overrides(session, project.id)
        return [
            f"{o.id}\t{o.provider or '*'}\t{o.model_pattern}\t{o.effective_from.isoformat()}"
            f"\t{o.input_per_mtok.normalize()}\t{o.output_per_mtok.normalize()}"
            for o in rows
        ]

    click.echo("id\tprovider\tmodel_pattern\teffective_from\tinput\toutput")
    for line in with_session(data_dir, action):
        click.echo(line)


@prices_group.command("set")
@click.argument("model_pattern")
@click.option("--input", "input_price", required=True, help="USD per million input tokens.")
@click.option("--output", "output_price", required=True, help="USD per million output tokens.")
@click.option("--cache-read", default=None, help="Default: the input price.")
@click.option("--cache-write", default=None, help="Default: the input price.")
@click.option("--reasoning", default=None, help="Default: the output price.")
@click.option("--provider", default=None, help="Only for this provider (default: any).")
@click.option("--effective-from", default=None, help="ISO time (default: now).")
@click.option("--tier", "tiers", multiple=True, help="ABOVE_INPUT_TOKENS:INPUT:OUTPUT")
@click.option("--id", "override_id", type=int, default=None, help="Replace this override.")
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@data_dir_option
def prices_set(
    project_name: str, override_id: int | None, data_dir: Path | None, **fields: Any
) -> None:
    """Add an override for MODEL_PATTERN (exact name or glob such as 'gpt-4o*')."""
    from cli.prices import override_from_options
    from core import prices as prices_api

    data = override_from_options(**fields)

    def action(session: Any, _: Settings) -> int:
        project_id = keys_api.get_project(session, project_name).id
        actor = f"cli:{getpass.getuser()}"
        if override_id is None:
            return prices_api.create_override(session, project_id, data, actor).id
        return prices_api.update_override(session, project_id, override_id, data, actor).id

    click.echo(f"saved price override {with_session(data_dir, action)}")


@prices_group.command("delete")
@click.argument("override_id", type=int)
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@data_dir_option
def prices_delete(override_id: int, project_name: str, data_dir: Path | None) -> None:
    """Retire override OVERRIDE_ID (kept for the spans it priced)."""
    from core import prices as prices_api

    def action(session: Any, _: Settings) -> None:
        project_id = keys_api.get_project(session, project_name).id
        prices_api.delete_override(session, project_id, override_id, f"cli:{getpass.getuser()}")

    with_session(data_dir, action)
    click.echo(f"deleted price override {override_id}")


@cli.group("users")
def users_group() -> None:
    """Dashboard users and their role in each project (sign-in turns on with the first user)."""


@users_group.command("create")
@click.argument("email")
@click.option("--project", "project_name", default=keys_api.DEFAULT_PROJECT, show_default=True)
@click.option("--role", type=click.Choice(users_api.ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@data_dir_option
def users_create(
    email: str, project_name: str, role: str, password_stdin: bool, data_dir: Path | None
) -> None:
    """Give EMAIL a ROLE in a project, creating the user (with a password) when new."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    def action(session: Any, _: Settings) -> bool:
        project = keys_api.get_project(session, project_name)
        return users_api.create_user(session, email, project, role, password)[1]

    created = with_session(data_dir, action)
    verb = "created user" if created else "updated user"
    note = "" if created else " (existing password kept)"
    click.echo(f"{verb} {email.strip().lower()} with role {role} in project {project_name!r}{note}")


@users_group.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """List users with their project and role (never their password hashes)."""
    for email, project, role in with_session(data_dir, lambda s, _: users_api.list_users(s)):
        click.echo(f"{email}\t{project}\t{role}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=4318, show_default=True, help="Collector (OTLP/HTTP) port.")
@click.option("--dashboard-port", default=8501, show_default=True)
@click.option("--demo", is_flag=True, help="Load 30 days of demo traffic once started.")
@click.option(
    "--workers",
    "collector_workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Collector processes on the port (one per core uses them all; quotas and /metrics "
    "are then per process, as with replicas).",
)
@data_dir_option
def up(
    host: str,
    port: int,
    dashboard_port: int,
    demo: bool,
    collector_workers: int,
    data_dir: Path | None,
) -> None:
    """Run the collector, a worker with beat and the dashboard."""
    from cli.run import run_platform
    from cli.up import Ports

    ports = Ports(host, port, dashboard_port)
    sys.exit(run_platform(load_settings(data_dir), ports, demo, collector_workers))


@cli.command("demo")
@click.option("--endpoint", default="http://127.0.0.1:4318", show_default=True)
@click.option("--api-key", envvar="TOKENTRAIL_API_KEY", default=None)
@click.option("--days", default=30, show_default=True)
@click.option("--seed", default=7, show_default=True)
@data_dir_option
def demo_command(
    endpoint: str, api_key: str | None, days: int, seed: int, data_dir: Path | None
) -> None:
    """Send realistic demo traffic through the SDK to a running collector."""
    from cli.demo import run_demo

    if api_key is None:
        api_key = with_session(data_dir, _demo_key)
    sent = run_demo(endpoint, api_key, days=days, seed=seed)
    click.echo(f"sent {sent} demo traces to {endpoint}")
    if load_settings(data_dir).database_url:  # beside the database (`tokentrail up --demo`)
        with_session(data_dir, functools.partial(_analyse_demo, api_key))


def _analyse_demo(api_key: str, session: Any, settings: Settings) -> None:
    """Scan the demo for spend anomalies and run drift once now, so the Spend, Alerts and Drift
    pages show the demo's spike and model change at once (the worker's schedules first run
    them 15 and 60 minutes after start)."""
    from core import anomalies
    from core.drift_job import run_drift

    principal = keys_api.authenticate(session, api_key, settings.key_pepper.get_secret_value())
    if principal is None:
        return
    now = datetime.now(UTC)
    found = anomalies.scan_project(session, principal.project_id, now=now)
    run_drift(session, principal.project_id, as_of=now)
    click.echo(f"demo analysed: {len(found)} spend anomalies, drift run stored")


def _demo_key(session: Any, settings: Settings) -> str:
    project, _ = keys_api.ensure_project(session)
    pepper = settings.key_pepper.get_secret_value()
    return keys_api.create_key(session, project, ("ingest",), pepper, "demo").secret


def main() -> None:
    try:
        cli(standalone_mode=True)
    except TokenTrailError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
