"""Settings of the SDK: explicit arguments win, then environment variables, then defaults.

A bad explicit argument is a programming error and raises ``ValueError`` at configure time; a bad
environment value must not take an app down, so it logs a warning and falls back to the default.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("tokentrail")

Mask = Callable[[str], str]

DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Config:
    """Resolved settings of one configured SDK instance."""

    endpoint: str
    api_key: str | None = None
    service: str = "unknown_service"
    sample_rate: float = 1.0
    mask: Mask | None = None
    capture_content: bool = True
    environment: str | None = None
    spool_dir: str | None = None
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES
    export_timeout: float = 10.0
    exit_timeout: float = 2.0
    # Three batches can be in flight (one encoded, one waiting, one sent); batches of 2048 keep
    # the per-request cost of the sending thread (under the GIL, each I/O wakeup waits for the
    # host's thread) low enough to deliver everything at ~9,000 calls/s from one thread.
    max_queue_spans: int = 8192
    max_queue_bytes: int = 32 * 1024 * 1024
    max_batch_spans: int = 2048
    schedule_delay: float = 1.0
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def traces_url(self) -> str:
        return f"{self.endpoint}/v1/traces"

    @property
    def scores_url(self) -> str:
        return f"{self.endpoint}/api/v1/scores"

    def auth_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers


def _clean_endpoint(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint must be an http(s) URL, got {value!r}")
    return value.strip().rstrip("/")


def _check_rate(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"sample_rate must be a number between 0 and 1, got {value!r}")
    return float(value)


def _check_spool_bound(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024 * 1024:
        raise ValueError(f"spool_max_bytes must be an int of at least 1 MiB, got {value!r}")
    return value


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else None


def _env_choice(name: str, parse: Callable[[str], Any], default: Any) -> Any:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError:
        logger.warning("Ignoring invalid %s=%r; using the default %r", name, raw, default)
        return default


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def _batching_from_env() -> dict[str, Any]:
    """The standard ``OTEL_BSP_*`` knobs: queue size, batch size (at most the queue), delay."""
    queue = _env_choice("OTEL_BSP_MAX_QUEUE_SIZE", _positive_int, Config.max_queue_spans)
    batch = _env_choice("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", _positive_int, Config.max_batch_spans)
    delay_ms = _env_choice(
        "OTEL_BSP_SCHEDULE_DELAY", _positive_int, int(Config.schedule_delay * 1000)
    )
    return {"max_queue_spans": queue, "max_batch_spans": min(batch, queue),
            "schedule_delay": delay_ms / 1000.0}  # fmt: skip


def _parse_bool(raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(raw)


def endpoint_from_env() -> str | None:
    """The collector endpoint from the environment, or ``None`` when none (or a bad one) is set."""
    for name in ("TOKENTRAIL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        raw = _env(name)
        if raw is None:
            continue
        try:
            return _clean_endpoint(raw)
        except ValueError:
            logger.warning("Ignoring invalid %s=%r: not an http(s) URL", name, raw)
    return None


def headers_from_env() -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS``: ``key=value`` pairs, comma-separated, URL-encoded."""
    raw = _env("OTEL_EXPORTER_OTLP_HEADERS")
    headers: dict[str, str] = {}
    for pair in (raw or "").split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            if pair.strip():
                logger.warning("Ignoring a malformed entry of OTEL_EXPORTER_OTLP_HEADERS")
            continue
        headers[unquote(key.strip()).lower()] = unquote(value.strip())
    return headers


def _default_service() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    base = os.path.basename(argv0).removesuffix(".py")
    return base or "unknown_service"


def resolve(
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    service: str | None = None,
    sample_rate: float | None = None,
    mask: Mask | None = None,
    capture_content: bool | None = None,
    environment: str | None = None,
    spool_dir: str | None = None,
    spool_max_bytes: int | None = None,
) -> Config | None:
    """Build a :class:`Config`; ``None`` when no endpoint is known (the SDK stays a no-op).

    Raises:
        ValueError: an explicit argument is invalid.
    """
    if endpoint is not None:
        if not isinstance(endpoint, str):
            raise ValueError("endpoint must be a string")
        url: str | None = _clean_endpoint(endpoint)
    else:
        url = endpoint_from_env()
    if api_key is not None and not isinstance(api_key, str):
        raise ValueError("api_key must be a string")
    if service is not None and (not isinstance(service, str) or not service.strip()):
        raise ValueError("service must be a non-empty string")
    rate = (
        _check_rate(sample_rate)
        if sample_rate is not None
        else _env_choice("TOKENTRAIL_SAMPLE_RATE", lambda r: _check_rate(float(r)), 1.0)
    )
    if mask is not None and not callable(mask):
        raise ValueError("mask must be a callable taking and returning a string")
    if capture_content is not None and not isinstance(capture_content, bool):
        raise ValueError("capture_content must be a bool")
    if environment is not None and not isinstance(environment, str):
        raise ValueError("environment must be a string")
    if spool_dir is not None and (not isinstance(spool_dir, str) or not spool_dir.strip()):
        raise ValueError("spool_dir must be a non-empty string")
    max_bytes = (
        _check_spool_bound(spool_max_bytes)
        if spool_max_bytes is not None
        else _env_choice(
            "TOKENTRAIL_SPOOL_MAX_BYTES",
            lambda r: _check_spool_bound(int(r)),
            DEFAULT_SPOOL_MAX_BYTES,
        )
    )
    if url is None:
        return None
    return Config(
        endpoint=url,
        api_key=api_key if api_key is not None else _env("TOKENTRAIL_API_KEY"),
        service=(
            service or _env("TOKENTRAIL_SERVICE") or _env("OTEL_SERVICE_NAME") or _default_service()
        ),
        sample_rate=rate,
        mask=mask,
        capture_content=(
            capture_content
            if capture_content is not None
            else _env_choice("TOKENTRAIL_CAPTURE_CONTENT", _parse_bool, True)
        ),
        environment=environment or _env("TOKENTRAIL_ENVIRONMENT"),
        spool_dir=spool_dir or _env("TOKENTRAIL_SPOOL_DIR"),
        spool_max_bytes=max_bytes,
        headers=headers_from_env(),
        **_batching_from_env(),
    )
