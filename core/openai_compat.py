"""A small client for OpenAI-compatible chat completions, over :mod:`core.outbound`.

The judge and replays call user-configured endpoints, so every request goes through
``core.outbound.post_json``: the URL is checked (public addresses only, loopback only when a
test allows it) and the connection is pinned to the checked address. Retries cover transient
failures (transport errors, 408/409/429/5xx) with exponential backoff, and never run past the
caller's deadline.

API keys are not stored in the database: a setting names an environment variable of the
worker process, which must start with ``TOKENTRAIL_SECRET_`` so a setting can never point a
key-bearing request at another of the server's variables (the database URL, the pepper).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import InvalidInputError
from core.outbound import OutboundURLError, post_json

logger = logging.getLogger(__name__)

SECRET_ENV_PREFIX = "TOKENTRAIL_SECRET_"  # noqa: S105 - a variable-name prefix, not a secret
SECRET_ENV_PATTERN = r"^TOKENTRAIL_SECRET_[A-Z0-9_]{1,100}$"  # noqa: S105
#: Answers above this size are refused (a chat answer of a few KB is normal).
MAX_RESPONSE_BYTES = 1024 * 1024
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


class ChatError(Exception):
    """A chat call failed; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class ChatResult:
    """What a completion gave back: the text, the serving model, usage and latency."""

    text: str
    model: str | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to send chat requests: the API root (``https://host/v1``) and its key."""

    base_url: str
    api_key: str | None = None
    allow_loopback: bool = False

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def resolve_api_key(env_name: str | None) -> str | None:
    """The key held by the worker's environment variable ``env_name`` (None: no key)."""
    if not env_name:
        return None
    if not env_name.startswith(SECRET_ENV_PREFIX):
        raise InvalidInputError(f"API key variables must start with {SECRET_ENV_PREFIX}")
    value = os.environ.get(env_name)
    if not value:
        raise InvalidInputError(f"the worker has no environment variable {env_name}")
    return value


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_completion(body: Any, latency_ms: float) -> ChatResult:
    """A :class:`ChatResult` from an OpenAI chat completion body; ChatError if it is not one."""
    if not isinstance(body, dict):
        raise ChatError("the endpoint answered something other than a JSON object", retryable=False)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ChatError("the answer has no choices", retryable=False)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise ChatError("the answer has no text content", retryable=False)
    raw_usage = body.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
    reason = choices[0].get("finish_reason")
    return ChatResult(
        text=content,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        finish_reason=reason if isinstance(reason, str) else None,
        input_tokens=_int(usage.get("prompt_tokens")),
        output_tokens=_int(usage.get("completion_tokens")),
        cache_read_tokens=cached,
        latency_ms=latency_ms,
    )


def chat(
    endpoint: Endpoint,
    model: str,
    messages: Sequence[dict[str, Any]],
    *,
    timeout_s: float = 30.0,
    max_tokens: int | None = None,
    temperature: float | None = 0.0,
) -> ChatResult:
    """One chat completion; ChatError (with ``retryable``) or OutboundURLError on failure."""
    payload: dict[str, Any] = {"model": model, "messages": list(messages)}
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    if temperature is not None:
        payload["temperature"] = temperature
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    started = time.monotonic()
    try:
        response = post_json(
            endpoint.url,
            payload,
            timeout_s=timeout_s,
            headers=headers,
            allow_loopback=endpoint.allow_loopback,
        )
    except httpx.HTTPError as exc:
        raise ChatError(f"{type(exc).__name__} calling the endpoint", retryable=True) from None
    latency_ms = (time.monotonic() - started) * 1000.0
    if response.status_code != 200:
        retryable = response.status_code in RETRY_STATUSES
        raise ChatError(f"the endpoint answered HTTP {response.status_code}", retryable=retryable)
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise ChatError("the answer is larger than 1 MiB", retryable=False)
    try:
        body = response.json()
    except ValueError:
        raise ChatError("the answer is not JSON", retryable=False) from None
    return parse_completion(body, latency_ms)


def chat_with_retries(
    endpoint: Endpoint,
    model: str,
    messages: Sequence[dict[str, Any]],
    *,
    deadline_s: float = 60.0,
    attempts: int = 3,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> ChatResult:
    """:func:`chat` retried on transient failures with exponential backoff (0.5 s, 1 s, ...),
    each attempt's timeout cut to what is left of ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    for attempt in range(attempts):
        remaining = deadline - time.monotonic()
        try:
            return chat(endpoint, model, messages, timeout_s=max(remaining, 0.1), **kwargs)
        except OutboundURLError:
            raise
        except ChatError as exc:
            delay = backoff_s * (2**attempt)
            last = attempt == attempts - 1
            if not exc.retryable or last or time.monotonic() + delay >= deadline:
                raise
            logger.info("chat call failed (%s); retrying in %.1f s", exc, delay)
            sleep(delay)
    raise ChatError("no attempt was made", retryable=False)  # pragma: no cover - attempts >= 1


__all__ = [
    "MAX_RESPONSE_BYTES",
    "SECRET_ENV_PATTERN",
    "SECRET_ENV_PREFIX",
    "ChatError",
    "ChatResult",
    "Endpoint",
    "chat",
    "chat_with_retries",
    "parse_completion",
    "resolve_api_key",
]
