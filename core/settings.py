"""Server settings, read from ``TOKENTRAIL_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Used only when no pepper is configured (laptop mode); servers must set their own.
DEV_KEY_PEPPER = "tokentrail-development-pepper"


def default_data_dir() -> Path:
    """The per-user data directory that holds the embedded database by default."""
    return platformdirs.user_data_path("tokentrail", appauthor=False)


class Settings(BaseSettings):
    """Everything the server reads from its environment.

    ``database_url`` unset means "use the embedded PostgreSQL in ``data_dir``"; the CLI resolves
    that into a real URL before any service starts.
    """

    model_config = SettingsConfigDict(env_prefix="TOKENTRAIL_", extra="ignore")

    database_url: str | None = None
    broker_url: str | None = None
    data_dir: Path = Field(default_factory=default_data_dir)
    key_pepper: SecretStr = SecretStr(DEV_KEY_PEPPER)

    db_pool_size: int = 10
    db_pool_timeout_s: float = 1.5
    db_statement_timeout_ms: int = 10_000

    max_body_bytes: int = 10 * 1024 * 1024
    max_decompressed_bytes: int = 64 * 1024 * 1024
    max_in_flight: int = 64
    retry_after_s: int = 2
    key_cache_ttl_s: float = 5.0
    price_cache_ttl_s: float = 10.0

    # Token buckets in each collector process: with N replicas a project may reach N times
    # these rates (see collector/quota.py). 0 turns a limit off.
    ingest_spans_per_minute: int = 600_000
    #: Per-project spans-per-minute overrides by project id, e.g. '{"3": 60000}'.
    ingest_spans_per_minute_by_project: dict[int, int] = Field(default_factory=dict)
    auth_failures_per_minute: int = 30
    auth_failure_burst: int = 20
    #: Writer threads for group commit, and the most spans one shared transaction takes.
    ingest_writers: int = 4
    ingest_group_max_spans: int = 4096

    #: Server-side redaction of secrets and emails in span content (collector/redaction.py).
    redaction: bool = True
    #: Per-project overrides by project id, e.g. '{"3": false}'.
    redaction_by_project: dict[int, bool] = Field(default_factory=dict)

    celery_queue: str = "tokentrail"
    #: Spans per scoring transaction (larger batches amortise the per-batch statements).
    score_batch_size: int = 500
    score_interval_s: float = 2.0
    #: How often workers look for rescore requests (core.quality.request_rescore).
    rescore_interval_s: float = 10.0
    #: The worker's Prometheus endpoint (scoring lag, backlog, dead letters); 0 = off.
    worker_metrics_port: int = 0

    #: Budgets and alert delivery (core/budget_state.py, core/webhooks.py): how often the worker
    #: recomputes budget state and sends pending alerts; webhook retries back off exponentially
    #: from ``webhook_retry_base_s`` and stop after ``webhook_max_attempts``.
    budget_interval_s: float = 60.0
    webhook_interval_s: float = 10.0
    webhook_timeout_s: float = 10.0
    webhook_retry_base_s: float = 30.0
    webhook_max_attempts: int = 8
    #: Let outbound URLs (webhooks, judges) reach loopback, for tests' stub receivers only;
    #: private and link-local addresses stay refused whatever this says.
    outbound_allow_loopback: bool = False

    #: Finance (core/repricing.py, core/rollups.py): how often the worker looks for queued
    #: re-pricing jobs and how many spans one batch re-prices; how often, and over how many
    #: recent hours, the rollups are recomputed from raw spans and compared.
    repricing_interval_s: float = 5.0
    repricing_batch_size: int = 10_000
    reconcile_interval_s: float = 3600.0
    reconcile_window_h: int = 48

    #: Spend anomalies (core/anomalies.py): how often the worker scans every project with
    #: recent spend, and how many complete days back each scan judges (alerts are deduplicated
    #: per day and series, so re-judging a day raises nothing twice).
    anomaly_interval_s: float = 900.0
    anomaly_lookback_days: int = 14

    #: Drift (core/drift_job.py): how often the worker compares each active project's last
    #: 24 hours with its baseline (windows are hour-aligned, so hourly is the natural pace).
    drift_interval_s: float = 3600.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
