"""What a dashboard view shows, as plain values that round-trip through the URL.

The trace list's filters live in the query string (``?range=7d&service=api&errors=1``) so a
view can be shared by URL; these functions translate both ways and never trust the input.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from core.queries import SORT_KEYS
from core.timeutil import floor_hour

#: Time-range presets: URL value → (label, length; None for "all time").
RANGES: dict[str, tuple[str, timedelta | None]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
}
DEFAULT_RANGE = "7d"
SORT_LABELS = {"time": "Newest", "duration": "Slowest", "cost": "Most expensive",
               "tokens": "Most tokens"}  # fmt: skip
#: Longest filter value accepted from a URL; longer ones are cut, not rejected.
MAX_PARAM_CHARS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TraceView:
    """The trace list's filters and sort; field names are the query-parameter names."""

    range: str = DEFAULT_RANGE
    service: str = ""
    environment: str = ""
    model: str = ""
    user: str = ""
    session: str = ""
    tag: str = ""
    provider: str = ""
    team: str = ""
    feature: str = ""
    customer: str = ""
    min_cost: str = ""
    max_cost: str = ""
    min_ms: str = ""
    max_ms: str = ""
    errors: bool = False
    q: str = ""
    sort: str = "time"

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> TraceView:
        """The view a URL asks for; unknown or malformed values fall back to the defaults."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = params.get(f.name)
            if raw is None:
                continue
            if f.name == "errors":
                values["errors"] = raw.lower() in {"1", "true", "yes"}
            else:
                values[f.name] = raw.strip()[:MAX_PARAM_CHARS]
        view = cls(**values)
        if view.range not in RANGES:
            view = dataclasses.replace(view, range=DEFAULT_RANGE)
        if view.sort not in SORT_KEYS:
            view = dataclasses.replace(view, sort="time")
        return view

    def to_params(self) -> dict[str, str]:
        """The query parameters that differ from the default view."""
        default = TraceView()
        params: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != getattr(default, f.name):
                params[f.name] = "1" if value is True else str(value)
        return params

    def query_kwargs(self, now: datetime) -> dict[str, Any]:
        """Keyword arguments for :func:`core.queries.list_traces` (everything but paging)."""
        start, end = time_window(self.range, now)
        return {
            "start": start, "end": end, "service": self.service or None,
            "environment": self.environment or None, "model": self.model or None,
            "user_id": self.user or None, "session_id": self.session or None,
            "tag": self.tag or None, "provider": self.provider or None,
            "team": self.team or None, "feature": self.feature or None,
            "customer": self.customer or None, "min_cost": decimal_or_none(self.min_cost),
            "max_cost": decimal_or_none(self.max_cost),
            "min_latency_ms": float_or_none(self.min_ms),
            "max_latency_ms": float_or_none(self.max_ms), "errors_only": self.errors,
            "search": self.q or None, "sort": self.sort,
        }  # fmt: skip


def decimal_or_none(text: str) -> Decimal | None:
    """A non-negative finite amount typed by a person, or None (blank or not a number)."""
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def float_or_none(text: str) -> float | None:
    value = decimal_or_none(text)
    return None if value is None else float(value)


PARAM_NAMES = tuple(f.name for f in dataclasses.fields(TraceView))


def time_window(range_key: str, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``[start, end)`` for a trace-list preset; open-ended for "all time"."""
    length = RANGES.get(range_key, RANGES[DEFAULT_RANGE])[1]
    return (None, None) if length is None else (now - length, None)


def hour_window(range_key: str, now: datetime) -> tuple[datetime, datetime]:
    """Hour-aligned ``[start, end)`` covering the preset, so rollups and traces agree exactly."""
    end = floor_hour(now) + timedelta(hours=1)
    length = RANGES.get(range_key, RANGES[DEFAULT_RANGE])[1]
    return (_EPOCH if length is None else end - length), end
