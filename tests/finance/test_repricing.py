"""Re-pricing: computed costs follow a price change, reported ones never move, the rollups and
trace summaries follow exactly, and an interrupted job resumes from its cursor."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from core import repricing, repricing_preview, rollups
from core.costs import total_cost
from core.ingest import SpanRecord, store_spans
from core.models import PriceOverride, Project, Span, Trace
from core.models_finance import RepricingJob
from core.prices import PriceOverrideIn, create_override, load_overrides, to_override_price
from core.pricing import COST_QUANTUM, TokenUsage, cost_for
from tests.finance.spans import T0, llm, span_cost

GPT4O_CHEAP = PriceOverrideIn(model_pattern="gpt-4o", effective_from=T0 - timedelta(days=1),
                              input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))  # fmt: skip


def priced(n: int, model: str = "gpt-4o", **fields: object) -> SpanRecord:
    """A span whose cost is what ingest computes from genai-prices."""
    span = llm(n, request_model=model, **fields)
    price = cost_for(span.provider, model, TokenUsage(1000, 200), span.start_time)
    assert price.cost is not None
    span.cost, span.price_ref = price.cost.quantize(COST_QUANTUM), price.ref
    return span


def _seed(factory: sessionmaker[Session], project: Project) -> None:
    spans = [priced(n, ("gpt-4o", "gpt-4o-mini")[n % 2]) for n in range(20)]
    spans.append(llm(20, cost=Decimal("0.5"), cost_source="reported", price_ref="reported:x"))
    with factory.begin() as session:
        store_spans(session, project.id, spans)


def _override_job(factory: sessionmaker[Session], project: Project) -> RepricingJob:
    with factory.begin() as session:
        row = create_override(session, project.id, GPT4O_CHEAP, "test")
        after = {"id": row.id, "model_pattern": row.model_pattern, "provider": None,
                 "effective_from": row.effective_from}  # fmt: skip
        return repricing.job_for_override_change(session, project.id, None, after, "test")


def test_an_override_reprices_matching_computed_spans_and_the_rollups_follow(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _seed(session_factory, project)
    job = _override_job(session_factory, project)
    assert job.models == ["gpt-4o"]
    assert repricing.run_jobs(session_factory, batch_size=4) == 3
    with session_factory() as session:
        spans = {s.span_id: s for s in session.scalars(select(Span))}
        done = session.get_one(RepricingJob, (project.id, job.id))
        window = (T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=2))
        assert total_cost(session, project.id, *window) == span_cost(session, project.id)
        traces = sum((t.cost for t in session.scalars(select(Trace))), Decimal(0))
        assert traces == span_cost(session, project.id)
    gpt4o = [
        s for s in spans.values() if s.request_model == "gpt-4o" and s.cost_source != "reported"
    ]
    assert len(gpt4o) == 10
    assert {s.cost for s in gpt4o} == {Decimal("0.0014")}  # 1000 × $1 + 200 × $2 per Mtok
    assert {s.price_ref for s in gpt4o} == {f"override:{job.reason.split()[2]}"}
    reported = spans[f"{21:016x}"]
    assert (reported.cost, reported.price_ref) == (Decimal("0.5"), "reported:x")
    mini = [s for s in spans.values() if s.request_model == "gpt-4o-mini"]
    assert all(s.price_ref and s.price_ref.startswith("genai-prices") for s in mini)
    assert (done.status, done.spans_scanned, done.spans_repriced) == ("done", 10, 10)
    assert done.cost_after == Decimal("0.014")
    with session_factory.begin() as session:
        assert rollups.reconcile(session, project.id, *window).ok


def test_an_interrupted_job_resumes_from_its_cursor(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _seed(session_factory, project)
    job = _override_job(session_factory, project)
    with session_factory.begin() as session:  # one committed batch
        claimed = repricing.claim_job(session)
        assert claimed is not None
        assert not repricing.run_batch(session, claimed, 3)
    session = session_factory()  # a worker killed mid-batch: its transaction never commits
    claimed = repricing.claim_job(session)
    assert claimed is not None
    repricing.run_batch(session, claimed, 3)
    with session_factory() as other:  # while it holds the job, nobody else may claim it
        assert repricing.claim_job(other) is None
    session.rollback()
    session.close()
    with session_factory() as session:
        mid = session.get_one(RepricingJob, (project.id, job.id))
        assert (mid.status, mid.spans_scanned, mid.batches) == ("running", 3, 1)
    repricing.run_jobs(session_factory, batch_size=3)
    with session_factory() as session:
        end = session.get_one(RepricingJob, (project.id, job.id))
        assert (end.status, end.spans_scanned, end.spans_repriced) == ("done", 10, 10)
        hourly, daily = repricing.rollup_cost(session, project.id)
        assert hourly == daily == span_cost(session, project.id)


def test_preview_says_what_a_change_would_do_and_changes_nothing(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    _seed(session_factory, project)
    with session_factory() as session:
        before = span_cost(session, project.id)
        current = load_overrides(session, project.id)
        proposal = to_override_price(PriceOverride(id=0, **GPT4O_CHEAP.model_dump()))
        out = repricing_preview.preview(session, project.id, (*current, proposal), start=T0)
        assert span_cost(session, project.id) == before
    assert out.spans_affected == 10
    assert [(m.model, m.spans) for m in out.models] == [("gpt-4o", 10)]
    assert out.cost_after == Decimal("0.014")
    assert out.cost_before == Decimal("0.0045") * 10


def test_repricing_rewrites_spans_in_place_without_index_writes(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    """A span's cost is in no index and its page keeps room (migration 0012), so re-pricing one
    span in eight updates it in place (HOT): none of the indexes of ``spans`` is written. With
    pages filled to 100 % every update but the last page's would move the row."""
    spans = [priced(n, "gpt-4o" if n % 8 == 0 else "gpt-4o-mini") for n in range(400)]
    with session_factory.begin() as session:
        store_spans(session, project.id, spans)
    _override_job(session_factory, project)
    counts = ("SELECT pg_stat_get_xact_tuples_updated(CAST('spans' AS regclass)), "
              "pg_stat_get_xact_tuples_hot_updated(CAST('spans' AS regclass))")  # fmt: skip
    with session_factory.begin() as session:  # the counters of this transaction alone
        session.execute(text("ANALYZE spans"))
        assert session.scalar(text("SELECT relpages FROM pg_class WHERE relname = 'spans'")) > 4
        claimed = repricing.claim_job(session)
        assert claimed is not None
        assert repricing.run_batch(session, claimed, 1000)
        updated, hot = session.execute(text(counts)).one()
    assert (updated, hot) == (50, 50)
