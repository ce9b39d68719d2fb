"""The collector's FastAPI app, built by a factory: nothing happens at import time.

Run it with ``uvicorn --factory collector.app:app_from_env``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from collector import errors
from collector.auth import Authenticator
from collector.committer import Committer
from collector.metrics import CollectorMetrics
from collector.middleware import RequestGuard
from collector.quota import AuthGuard, IngestQuota
from collector.redaction import RedactionPolicy
from collector.routes import (
    api_alerts,
    api_budgets,
    api_costs,
    api_drift,
    api_insight,
    api_recommendations,
    api_repricing,
    api_sessions,
    api_spans,
    api_traces,
    health,
    logs,
    prices,
    scores,
    traces,
)
from collector.routes.strict_query import reject_unknown_query
from core.db import make_engine, make_session_factory
from core.prices import PriceBook
from core.settings import Settings, get_settings


def create_app(settings: Settings) -> FastAPI:
    """A collector app with its own engine, key cache and metrics registry."""
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        yield
        started.state.committer.close()
        engine.dispose()

    app = FastAPI(title="TokenTrail collector", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(reject_unknown_query)])  # fmt: skip
    factory = make_session_factory(engine)
    metrics = CollectorMetrics()
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.metrics = metrics
    app.state.authenticator = Authenticator(
        factory, settings.key_pepper.get_secret_value(), settings.key_cache_ttl_s
    )
    app.state.price_book = PriceBook(factory, settings.price_cache_ttl_s)
    app.state.committer = Committer(factory, settings)
    app.state.quota = IngestQuota(settings)
    app.state.auth_guard = AuthGuard(settings)
    app.state.redaction = RedactionPolicy.from_settings(settings)
    errors.install(app)
    for module in (traces, logs, scores, prices, api_traces, api_spans, api_sessions, health):
        app.include_router(module.router)
    for module in (api_budgets, api_alerts):
        app.include_router(module.router)
    for module in (api_costs, api_repricing):
        app.include_router(module.router)
    app.include_router(api_recommendations.router)
    app.include_router(api_insight.router)
    app.include_router(api_drift.router)
    app.add_middleware(
        RequestGuard,
        metrics=metrics,
        max_in_flight=settings.max_in_flight,
        retry_after_s=settings.retry_after_s,
    )
    return app


def app_from_env() -> FastAPI:
    """The app configured from ``TOKENTRAIL_*`` environment variables (uvicorn --factory)."""
    return create_app(get_settings())
