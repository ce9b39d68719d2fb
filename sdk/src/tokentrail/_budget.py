"""``budget_ok()``: may this call spend, or has a hard budget limiting it run out?

The collector answers from the budgets' rollups (``GET /api/v1/budgets/check``); answers are
cached per scope for :data:`CACHE_TTL_S` seconds in a bounded cache, so an app can ask before
every LLM call. One question costs at most ``timeout`` seconds (one deadline over connect,
send and every byte read). Failures — no endpoint configured, collector down, slow, refusing
the key — answer ``fail_open`` (``True`` by default: an outage of TokenTrail must not stop the
app) and are cached for :data:`FAILURE_TTL_S` seconds so a dead collector costs one timeout per
scope, not one per call. Nothing here ever raises into the host.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from tokentrail import _runtime
from tokentrail._context import current_attribution
from tokentrail._errors import report_internal_error
from tokentrail._transport import MAX_RESPONSE_BYTES, _DeadlineSocket, read_bounded

logger = logging.getLogger("tokentrail")

#: How long an answer is reused (a hard budget's exhaustion reaches the app within this).
CACHE_TTL_S = 15.0
#: How long a failed question is remembered before the collector is asked again.
FAILURE_TTL_S = 5.0
#: Scopes remembered at once; the least recently used go first.
MAX_CACHED_SCOPES = 1024
DEFAULT_TIMEOUT_S = 1.0
MAX_TIMEOUT_S = 10.0
#: Context attributes a check defaults to, by the collector's parameter name.
_CONTEXT_KEYS = {"team": "tokentrail.team", "feature": "tokentrail.feature",
                 "customer": "tokentrail.customer", "user": "user.id"}  # fmt: skip
_MAX_VALUE_CHARS = 200

Key = tuple[str, str, tuple[tuple[str, str], ...]]


class _Cache:
    """``key -> (expires_at, ok or None for a failure)``, bounded, thread-safe, fork-safe."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, tuple[float, bool | None]] = OrderedDict()

    def get(self, key: Key, now: float) -> tuple[bool, bool | None]:
        """``(found, answer)``; expired entries are not found."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= now:
                return False, None
            self._entries.move_to_end(key)
            return True, entry[1]

    def put(self, key: Key, answer: bool | None, expires_at: float) -> None:
        with self._lock:
            self._entries[key] = (expires_at, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_CACHED_SCOPES:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_cache = _Cache()
_warned: set[int] = set()
_fork_hook = False


def _install_fork_hook() -> None:
    global _fork_hook
    if not _fork_hook and hasattr(os, "register_at_fork"):
        # A lock held by another thread at fork time would deadlock the child.
        os.register_at_fork(after_in_child=_cache.reset)
        _fork_hook = True


def _scope(explicit: Mapping[str, object | None]) -> tuple[tuple[str, str], ...]:
    attribution = current_attribution()
    scope: dict[str, str] = {}
    for name, attribute in _CONTEXT_KEYS.items():
        current = attribution.get(attribute)
        if isinstance(current, str) and current:
            scope[name] = current
    for name, value in explicit.items():
        if value is not None:
            scope[name] = str(value)
    return tuple(sorted((k, v[:_MAX_VALUE_CHARS]) for k, v in scope.items() if v))


def _ask(url: str, headers: dict[str, str], timeout: float) -> bool | None:
    """One GET of the check; its ``ok``, or None when there is no usable answer in time."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    https = parts.scheme == "https"
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if https else 80)
    connection = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(
        host, port, timeout=timeout
    )
    try:
        connection.connect()
        connection.sock = _DeadlineSocket(connection.sock, deadline)
        connection.request("GET", f"{parts.path}?{parts.query}", headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            _warn_once(response.status)
            return None
        body = read_bounded(response, MAX_RESPONSE_BYTES, deadline)
        ok = json.loads(body).get("ok")
        return ok if isinstance(ok, bool) else None
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        logger.debug("TokenTrail budget check got no answer in time")
        return None
    finally:
        connection.close()


def _warn_once(status: int) -> None:
    if status in (401, 403, 404) and status not in _warned:
        _warned.add(status)
        logger.warning(
            "TokenTrail budget check answered %s: check the endpoint and API key "
            "(budget_ok answers its fail_open value meanwhile)",
            status,
        )


def budget_ok(
    *,
    team: str | None = None,
    feature: str | None = None,
    customer: str | None = None,
    user_id: str | None = None,
    model: str | None = None,
    fail_open: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> bool:
    """Whether a call may spend: ``False`` when an enabled hard budget limiting it is exhausted.

    Team, feature, customer and user default to the current :class:`tokentrail.context`;
    a project-wide hard budget limits every call. Answers are cached for about 15 seconds.
    Never raises and never waits longer than ``timeout`` seconds (at most 10)::

        if not tokentrail.budget_ok(team="search", model="gpt-4o"):
            return "The search team's LLM budget is spent for this month."

    Args:
        team: Team the call is billed to.
        feature: Feature the call serves.
        customer: Customer the call is for.
        user_id: End user the call is for.
        model: Model the call would use (for model budgets).
        fail_open: The answer when the collector cannot be asked or does not answer in time
            (also when the SDK has no endpoint configured).
        timeout: Seconds one question to the collector may take.

    Returns:
        ``True`` to go ahead, ``False`` to refuse the call.
    """
    try:
        runtime = _runtime.active()
        if runtime is None:
            return fail_open
        _install_fork_hook()
        config = runtime.config
        scope = _scope({"team": team, "feature": feature, "customer": customer,
                        "user": user_id, "model": model})  # fmt: skip
        key: Key = (config.endpoint, config.api_key or "", scope)
        now = time.monotonic()
        found, answer = _cache.get(key, now)
        if not found:
            wait = min(max(float(timeout), 0.05), MAX_TIMEOUT_S)
            url = f"{config.endpoint}/api/v1/budgets/check?{urlencode(scope)}"
            headers = {"Accept": "application/json", "User-Agent": "tokentrail-python",
                       **config.auth_headers()}  # fmt: skip
            answer = _ask(url, headers, wait)
            ttl = FAILURE_TTL_S if answer is None else CACHE_TTL_S
            _cache.put(key, answer, time.monotonic() + ttl)
        return fail_open if answer is None else answer
    except Exception as exc:
        report_internal_error("budget.budget_ok", exc)
        return fail_open


def clear_cache() -> None:
    """Forget cached answers (tests, or after changing a budget from the app itself)."""
    _cache.reset()
