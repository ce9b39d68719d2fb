"""Property: every report's total equals the sum of span costs for the same filter, to the
Decimal — after duplicate deliveries, after re-pricing and after a reconciliation run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys, repricing, rollups
from core.cost_reports import chargeback
from core.costs import Granularity, cost_series
from core.ingest import SpanRecord, store_spans
from core.models import Span, UsageHourly
from core.models_finance import UsageDaily, UsageMonthly
from core.prices import PriceOverrideIn, create_override
from tests.finance.spans import MODELS, T0, database_settings, span_cost, span_sets

START = T0.replace(hour=0)
END = START + timedelta(days=4)
GROUPINGS = [(), ("team",), ("model", "provider"), ("customer", "user_id"), ("team", "model")]
BUCKETS: tuple[Granularity | None, ...] = ("hour", "day", "week", "month", None)
MONTHS = {"2026-10": (START, datetime(2026, 11, 1, tzinfo=UTC)),
          "2026-11": (datetime(2026, 11, 1, tzinfo=UTC), END)}  # fmt: skip
_names = itertools.count()
Q = Decimal("1e-10")


def _check_reports(session: Session, project_id: int) -> None:
    truth = span_cost(session, project_id)
    for granularity, group_by in itertools.product(BUCKETS,
                                                   GROUPINGS):  # fmt: skip
        rows = cost_series(session, project_id, START, END, granularity, group_by)
        assert sum((r.cost for r in rows), Decimal(0)) == truth, (granularity, group_by)
    for team in ("search", "support", ""):
        rows = cost_series(session, project_id, START, END, "day", (), {"team": [team]})
        assert sum((r.cost for r in rows), Decimal(0)) == span_cost(
            session, project_id, team=team or None
        )
    for month, (lo, hi) in MONTHS.items():
        for by in ("team", "customer"):
            statement = chargeback(session, project_id, month, by)
            in_month = sum(
                (s.cost or Decimal(0) for s in session.scalars(
                    select(Span).where(Span.project_id == project_id, Span.start_time >= lo,
                                       Span.start_time < hi, Span.kind.in_(("llm", "embedding")))
                )), Decimal(0),
            )  # fmt: skip
            assert statement.total == in_month
            assert sum((line.cost for line in statement.lines), Decimal(0)) == in_month


def _reported(session: Session, project_id: int) -> dict[tuple[str, str], Decimal | None]:
    query = select(Span).where(Span.project_id == project_id, Span.cost_source == "reported")
    return {(s.trace_id, s.span_id): s.cost for s in session.scalars(query)}


def _deliver(factory: sessionmaker[Session], project_id: int, spans: list[SpanRecord],
             cuts: list[int]) -> None:  # fmt: skip
    """Deliver overlapping batches (every span at least once, many twice)."""
    bounds = sorted({0, len(spans), *(c % (len(spans) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        with factory.begin() as session:
            store_spans(session, project_id, spans[max(lo - 3, 0) : hi])
    with factory.begin() as session:
        store_spans(session, project_id, spans)  # the whole set again


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # big reprs
@database_settings(10)
@given(
    spans=span_sets(),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    model=st.sampled_from(MODELS),
    price=st.tuples(st.integers(0, 30), st.integers(0, 60)),
    tamper=st.integers(0, 10**6),
)
def test_report_totals_equal_span_costs_through_duplicates_repricing_and_reconciliation(
    session_factory: sessionmaker[Session],
    spans: list[SpanRecord],
    cuts: list[int],
    model: tuple[str, str],
    price: tuple[int, int],
    tamper: int,
) -> None:
    with session_factory.begin() as session:
        project_id = keys.create_project(session, f"p{next(_names)}").id
    _deliver(session_factory, project_id, spans, cuts)
    with session_factory() as session:
        _check_reports(session, project_id)
        reported = _reported(session, project_id)

    override = PriceOverrideIn(model_pattern=model[1], effective_from=START,
                               input_per_mtok=(Decimal(price[0]) / 7).quantize(Q),
                               output_per_mtok=(Decimal(price[1]) / 3).quantize(Q))  # fmt: skip
    with session_factory.begin() as session:
        row = create_override(session, project_id, override, "test")
        snapshot = {"id": row.id, "model_pattern": row.model_pattern, "provider": None,
                    "effective_from": row.effective_from}  # fmt: skip
        repricing.job_for_override_change(session, project_id, None, snapshot, "test")
    repricing.run_jobs(session_factory, batch_size=7)
    with session_factory() as session:
        _check_reports(session, project_id)
        assert _reported(session, project_id) == reported

    with session_factory.begin() as session:  # tamper with one hourly and one daily cell
        for table in (UsageHourly, UsageDaily, UsageMonthly):
            cells = session.scalars(select(table).where(table.project_id == project_id)).all()
            if cells:
                cell: Any = cells[tamper % len(cells)]
                cell.cost += Decimal("0.0000000001") * (tamper % 97 + 1)
                cell.calls += tamper % 3
    with session_factory.begin() as session:
        report = rollups.reconcile(session, project_id, START, END)
        assert report.repaired == bool(spans and any(s.kind != "chain" for s in spans))
    with session_factory() as session:
        _check_reports(session, project_id)
    with session_factory.begin() as session:
        assert rollups.reconcile(session, project_id, START, END).ok
