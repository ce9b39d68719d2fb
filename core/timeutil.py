"""Time conversions. OTel nanoseconds become datetimes here and nowhere else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_unix_nanos(nanos: int) -> datetime:
    """A UTC datetime (microsecond precision, as PostgreSQL stores it) from Unix nanoseconds."""
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def to_unix_nanos(moment: datetime) -> int:
    """Unix nanoseconds of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
