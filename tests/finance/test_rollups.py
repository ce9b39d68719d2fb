"""Hourly and daily rollups: kept at ingest from new rows only, and re-checked from spans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from core import rollups
from core.costs import cost_series
from core.ingest import store_spans
from core.models import Project, UsageHourly
from core.models_finance import UsageDaily, UsageMonthly
from tests.finance.spans import T0, llm


def _store(factory: sessionmaker[Session], project: Project, spans: list) -> int:  # type: ignore[type-arg]
    with factory.begin() as session:
        return store_spans(session, project.id, spans)


def test_daily_rows_equal_the_hourly_rows_of_the_day(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [llm(n, start_time=T0 + timedelta(hours=n)) for n in range(10)]  # 20:00 .. +9h
    assert _store(session_factory, project, spans) == 10
    with session_factory() as session:
        days = {d.day: d for d in session.scalars(select(UsageDaily))}
        hourly = session.scalar(select(func.sum(UsageHourly.calls)))
    assert hourly == 10
    assert sorted(days) == [datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)]
    first, second = days.values()
    assert (first.calls, second.calls) == (4, 6)
    assert first.cost == Decimal("0.0045") * 4
    assert sum(first.latency_hist) == 4
    assert first.latency_hist[rollups.latency_bucket(800.0)] == 4


def test_a_resent_batch_changes_no_rollup(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [llm(n) for n in range(5)]
    _store(session_factory, project, spans)
    assert _store(session_factory, project, [*spans, llm(5)]) == 1
    with session_factory() as session:
        daily = session.scalars(select(UsageDaily)).one()
        hourly = session.scalars(select(UsageHourly)).one()
    assert (daily.calls, hourly.calls) == (6, 6)
    assert daily.latency_hist == hourly.latency_hist


def test_reconcile_finds_nothing_on_rollups_kept_at_ingest(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _store(session_factory, project, [llm(n, start_time=T0 + timedelta(minutes=37 * n))
                                      for n in range(30)])  # fmt: skip
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project.id, T0, T0 + timedelta(days=1))
    assert report.ok
    assert report.cells_checked["hour"] == 18
    assert report.cells_checked["day"] == 2


def test_reconcile_reports_and_repairs_a_tampered_rollup(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _store(session_factory, project, [llm(n) for n in range(3)])
    with session_factory.begin() as session:
        session.execute(update(UsageHourly).values(cost=UsageHourly.cost + 1, calls=7))
        session.execute(update(UsageDaily).values(latency_hist=[1, 2, 3]))
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project.id, T0, T0 + timedelta(hours=1))
    assert {m.grain for m in report.mismatches} == {"hour", "day"}
    hour = next(m for m in report.mismatches if m.grain == "hour")
    assert hour.stored is not None
    assert hour.expected is not None
    assert (hour.stored["calls"], hour.expected["calls"]) == (7, 3)
    assert report.repaired
    with session_factory.begin() as session:
        assert rollups.reconcile(session, project.id, T0, T0 + timedelta(hours=1)).ok
    with session_factory() as session:
        assert session.scalars(select(UsageHourly)).one().cost == Decimal("0.0135")


def test_reconcile_removes_a_rollup_row_without_spans_and_adds_a_missing_one(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _store(session_factory, project, [llm(0), llm(1, start_time=T0 + timedelta(hours=2))])
    with session_factory.begin() as session:
        session.execute(
            update(UsageHourly).where(UsageHourly.hour == T0).values(hour=T0 - timedelta(hours=3))
        )
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project.id, T0, T0 + timedelta(hours=3))
    assert len([m for m in report.mismatches if m.grain == "hour"]) == 2
    with session_factory() as session:
        hours = sorted(session.scalars(select(UsageHourly.hour)))
    assert hours == [T0, T0 + timedelta(hours=2)]


def test_rebuild_writes_what_ingest_wrote(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [llm(n, start_time=T0 + timedelta(minutes=50 * n), team=("a", "b", None)[n % 3])
             for n in range(20)]  # fmt: skip
    _store(session_factory, project, spans)
    with session_factory() as session:
        before = sorted(tuple(r) for r in session.execute(select(UsageHourly.__table__)))
    with session_factory.begin() as session:
        rollups.rebuild(session, project.id, T0, T0 + timedelta(days=2))
    with session_factory() as session:
        after = sorted(tuple(r) for r in session.execute(select(UsageHourly.__table__)))
    assert [r[:-2] + r[-1:] for r in after] == [r[:-2] + r[-1:] for r in before]


def test_cost_series_groups_by_team_and_day(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [llm(n, start_time=T0 + timedelta(hours=2 * n), team=("a", "b", None)[n % 3])
             for n in range(6)]  # fmt: skip
    _store(session_factory, project, spans)
    with session_factory() as session:
        rows = cost_series(session, project.id, T0.replace(hour=0), T0.replace(hour=0)
                           + timedelta(days=2), "day", ["team"])  # fmt: skip
    got = {(r.bucket_start.day if r.bucket_start else 0, r.group["team"]): r.calls for r in rows}
    assert got == {(30, "a"): 1, (30, "b"): 1, (31, ""): 2, (31, "a"): 1, (31, "b"): 1}
    assert sum(r.cost for r in rows) == Decimal("0.0045") * 6


def test_quantiles_from_the_histogram_are_close_to_the_true_ones() -> None:
    latencies = [float(x) for x in range(10, 5000, 7)]
    hist = rollups.empty_hist()
    for ms in latencies:
        hist[rollups.latency_bucket(ms)] += 1
    true_p95 = sorted(latencies)[int(0.95 * len(latencies))]
    estimate = rollups.quantile_from_hist(hist, 0.95)
    assert estimate is not None
    assert abs(estimate - true_p95) / true_p95 < 0.13
    assert rollups.quantile_from_hist(rollups.empty_hist(), 0.5) is None


def test_monthly_rows_fold_the_days_and_are_reconciled_against_them(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [llm(n, start_time=T0 + timedelta(hours=3 * n)) for n in range(12)]  # Oct → Nov
    _store(session_factory, project, spans)
    with session_factory() as session:
        months = {m.month.month: m for m in session.scalars(select(UsageMonthly))}
    assert {k: (m.calls, sum(m.latency_hist)) for k, m in months.items()} == {
        10: (10, 10),
        11: (2, 2),
    }
    with session_factory.begin() as session:
        session.execute(update(UsageMonthly).values(cost=0, latency_hist=[]))
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project.id, T0, T0 + timedelta(hours=1))
    assert [m.grain for m in report.mismatches] == ["month"]  # Oct 30 only touches October
    assert report.cells_checked["month"] == 1
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project.id, T0, T0 + timedelta(days=2))
    assert [m.grain for m in report.mismatches] == ["month"]
    with session_factory() as session:
        total = sum((m.cost for m in session.scalars(select(UsageMonthly))), Decimal(0))
        assert total == Decimal("0.0045") * 12
        rows = cost_series(session, project.id, T0.replace(day=1, hour=0),
                           T0.replace(month=12, day=1, hour=0), "month", ["team"])  # fmt: skip
    assert [(r.bucket_start.month if r.bucket_start else 0, r.calls) for r in rows] == [
        (10, 10), (11, 2)]  # fmt: skip
