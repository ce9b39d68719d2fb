"""Typed dependencies, declared once: app state, and the principal a route requires."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from collector.auth import Authenticator, credential_from
from collector.metrics import CollectorMetrics
from collector.quota import AuthGuard
from core.errors import AuthenticationError
from core.keys import Principal
from core.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_metrics(request: Request) -> CollectorMetrics:
    metrics: CollectorMetrics = request.app.state.metrics
    return metrics


def requires(*scopes: str) -> Callable[[Request], Principal]:
    """A dependency resolving the request's key to a principal holding one of ``scopes``.

    It is a plain function, so FastAPI runs its database lookup in the thread pool.
    """
    wanted = frozenset(scopes)

    def principal(request: Request) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        guard: AuthGuard = request.app.state.auth_guard
        address = request.client.host if request.client else "unknown"
        guard.check(address)
        try:
            return authenticator.principal(credential_from(request.headers), wanted)
        except AuthenticationError:
            guard.failed(address)
            raise

    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
MetricsDep = Annotated[CollectorMetrics, Depends(get_metrics)]
Ingestor = Annotated[Principal, Depends(requires("ingest"))]
Reader = Annotated[Principal, Depends(requires("read"))]
ScoreWriter = Annotated[Principal, Depends(requires("ingest", "read"))]
Admin = Annotated[Principal, Depends(requires("admin"))]
