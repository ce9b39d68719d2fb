"""Set-based re-pricing gives every span exactly what :func:`core.pricing.cost_for` gives it —
overrides with tiers, cache and reasoning prices, genai-prices tiers and start dates, prices
that only Python can apply, half-even rounding — and the preview predicts the job."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import keys, price_plans, repricing, repricing_preview, rollups
from core.ingest import SpanRecord, store_spans
from core.models import Span, Trace
from core.models_finance import RepricingJob
from core.prices import PriceOverrideIn, PriceTierIn, create_override, load_overrides
from tests.finance.spans import T0, database_settings, llm, span_cost

START = T0.replace(hour=0) - timedelta(days=1)
END = START + timedelta(days=5)
#: An override target, a genai-prices tiered model, one with start-date prices, one with
#: time-of-day prices (priced in Python), an unknown model and no model at all.
PAIRS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"),
         ("anthropic", "claude-opus-4-6"), ("deepseek", "deepseek-chat"),
         ("openai", "house-model-1"), (None, None))  # fmt: skip
_names = itertools.count()
GPT4O_FLAT = PriceOverrideIn(model_pattern="gpt-4o", effective_from=START,
                             input_per_mtok=Decimal(1), output_per_mtok=Decimal(2))  # fmt: skip

money = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 10**8),
                  st.integers(0, 10))  # fmt: skip


@st.composite
def overrides(draw: st.DrawFn) -> list[PriceOverrideIn]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        tiers = [
            PriceTierIn(
                above_input_tokens=above,
                input_per_mtok=draw(money),
                output_per_mtok=draw(money),
                cache_read_per_mtok=draw(st.none() | money),
            )
            for above in sorted(draw(st.sets(st.integers(1, 300_000), max_size=2)))
        ]
        out.append(
            PriceOverrideIn(
                model_pattern=draw(st.sampled_from(("gpt-4o", "gpt-4o*", "claude-*", "*"))),
                provider=draw(st.sampled_from((None, "openai"))),
                effective_from=START + timedelta(hours=draw(st.integers(0, 96))),
                input_per_mtok=draw(money),
                output_per_mtok=draw(money),
                cache_read_per_mtok=draw(st.none() | money),
                cache_write_per_mtok=draw(st.none() | money),
                reasoning_per_mtok=draw(st.none() | money),
                tiers=tiers,
            )
        )
    return out


@st.composite
def spans(draw: st.DrawFn) -> list[SpanRecord]:
    out = []
    for n in range(draw(st.integers(1, 30))):
        provider, model = draw(st.sampled_from(PAIRS))
        tokens = draw(st.integers(0, 400_000))
        out.append(
            llm(
                n,
                start_time=START + timedelta(seconds=draw(st.integers(0, 4 * 86_400))),
                provider=provider,
                request_model=model,
                input_tokens=tokens,
                cache_read_tokens=draw(st.sampled_from((None, 0, tokens // 3))),
                cache_write_tokens=draw(st.sampled_from((None, 0, tokens // 5))),
                output_tokens=draw(st.integers(0, 20_000)),
                reasoning_tokens=draw(st.sampled_from((None, 0, 700))),
                usage_source=draw(st.sampled_from(("reported", "estimated"))),
                cost_source=draw(st.sampled_from(("computed", "computed", "reported"))),
                cost=draw(st.none() | money),
            )
        )
    return out


def _as_candidate(span: Span) -> Any:
    """The span as the job reads it (the model as ingest picks it)."""
    return SimpleNamespace(
        provider=span.provider, model=span.response_model or span.request_model,
        start_time=span.start_time, input_tokens=span.input_tokens,
        output_tokens=span.output_tokens, cache_read_tokens=span.cache_read_tokens,
        cache_write_tokens=span.cache_write_tokens, reasoning_tokens=span.reasoning_tokens,
        usage_source=span.usage_source,
    )  # fmt: skip


def _prices(session: Session, project_id: int) -> dict[str, tuple[Any, ...]]:
    query = select(Span).where(Span.project_id == project_id)
    return {s.span_id: (s.cost, s.cost_source, s.price_ref) for s in session.scalars(query)}


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # big reprs
@database_settings(12)
@given(spans=spans(), changes=overrides(), batch=st.integers(2, 40))
def test_the_job_prices_every_span_as_cost_for_does_and_the_preview_predicts_it(
    session_factory: sessionmaker[Session],
    spans: list[SpanRecord],
    changes: list[PriceOverrideIn],
    batch: int,
) -> None:
    with session_factory.begin() as session:
        project_id = keys.create_project(session, f"exact{next(_names)}").id
        store_spans(session, project_id, spans)
        for change in changes:
            create_override(session, project_id, change, "test")
        before = _prices(session, project_id)
        current = load_overrides(session, project_id)
        forecast = repricing_preview.preview(session, project_id, current, start=START)
        job = repricing.create_job(session, project_id, start=START)
        key = (project_id, job.id)
    repricing.run_jobs(session_factory, batch_size=batch, budget_s=3600, job_id=key)
    with session_factory() as session:
        done = session.get_one(RepricingJob, key)
        after = _prices(session, project_id)
        for span in session.scalars(select(Span).where(Span.project_id == project_id)):
            if before[span.span_id][1] == "reported":  # reported costs never move
                assert after[span.span_id] == before[span.span_id]
                continue
            new = repricing.price_span(_as_candidate(span), current)
            expected = (new.cost, new.source, new.ref)
            assert after[span.span_id] == expected, (span.request_model, span.start_time)
        traces = session.scalars(select(Trace).where(Trace.project_id == project_id))
        assert sum((t.cost for t in traces), Decimal(0)) == span_cost(session, project_id)
    assert done.status == "done"
    assert done.spans_repriced == forecast.spans_affected
    assert (done.cost_before, done.cost_after) == (forecast.cost_before, forecast.cost_after)
    with session_factory.begin() as session:
        assert rollups.reconcile(session, project_id, START, END).ok


def _reprice(factory: sessionmaker[Session], project: str, override: PriceOverrideIn,
             spans: list[SpanRecord]) -> dict[str, tuple[Any, ...]]:  # fmt: skip
    """Store ``spans`` in a new project, add ``override``, run the job; the spans' prices."""
    with factory.begin() as session:
        project_id = keys.create_project(session, project).id
        store_spans(session, project_id, spans)
        create_override(session, project_id, override, "test")
        repricing.create_job(session, project_id, start=START)
    repricing.run_jobs(factory, budget_s=3600)
    with factory() as session:
        return _prices(session, project_id)


def test_a_tier_prices_every_token_of_a_call_above_its_threshold(
    session_factory: sessionmaker[Session],
) -> None:
    tiered = PriceOverrideIn(
        model_pattern="gpt-4o", effective_from=START, input_per_mtok=Decimal(1),
        output_per_mtok=Decimal(2), cache_read_per_mtok=Decimal("0.5"),
        tiers=[PriceTierIn(above_input_tokens=1000, input_per_mtok=Decimal(10),
                           output_per_mtok=Decimal(20))],
    )  # fmt: skip
    spans = [llm(0, input_tokens=1000, output_tokens=100, cache_read_tokens=400),
             llm(1, input_tokens=1001, output_tokens=100, cache_read_tokens=400)]  # fmt: skip
    prices = _reprice(session_factory, "tiers", tiered, spans)
    # 600 × $1 + 400 × $0.5 + 100 × $2 per Mtok; above 1,000 tokens all at the tier (cache
    # reads then at its input price, the tier having none)
    assert prices[f"{1:016x}"][0] == Decimal("0.001")
    assert prices[f"{2:016x}"][0] == Decimal("0.01201")


def test_costs_round_half_to_even_at_ten_decimals_as_decimal_does(
    session_factory: sessionmaker[Session],
) -> None:
    tiny = PriceOverrideIn(
        model_pattern="gpt-4o",
        effective_from=START,
        input_per_mtok=Decimal("0.00005"),
        output_per_mtok=Decimal(0),
    )
    spans = [llm(n, input_tokens=tokens, output_tokens=0) for n, tokens in enumerate((1, 3, 5))]
    prices = _reprice(session_factory, "halves", tiny, spans)
    # 0.5, 1.5 and 2.5 × 1e-10: to the even neighbour, not away from zero
    assert [prices[f"{n + 1:016x}"][0] for n in range(3)] == [
        Decimal(0),
        Decimal("2e-10"),
        Decimal("2e-10"),
    ]


def test_spans_too_large_for_exact_sql_are_priced_in_python(
    session_factory: sessionmaker[Session],
) -> None:
    flat = PriceOverrideIn(
        model_pattern="gpt-4o",
        effective_from=START,
        input_per_mtok=Decimal("3.0000000007"),
        output_per_mtok=Decimal(1),
    )
    spans = [llm(0, input_tokens=3_000_000_007, output_tokens=1)]
    prices = _reprice(session_factory, "huge", flat, spans)
    assert prices[f"{1:016x}"][0] == Decimal("9000.0000241000")


def test_a_span_changed_during_a_batch_is_priced_again_under_lock(
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_factory.begin() as session:
        project_id = keys.create_project(session, "conflict").id
        store_spans(session, project_id, [llm(n) for n in range(6)])
        create_override(session, project_id, GPT4O_FLAT, "test")
        repricing.create_job(session, project_id, start=START)
    real_plan, plans = price_plans.plan, []

    def plan_after_a_concurrent_change(*args: Any) -> price_plans.Plan:
        if not plans:  # between the batch's read and its update, another writer moves a span
            with session_factory.begin() as other:
                span = other.get_one(Span, (project_id, f"{1:032x}", f"{3:016x}"))
                span.price_ref = "changed meanwhile"
        plans.append(args)
        return real_plan(*args)

    monkeypatch.setattr(price_plans, "plan", plan_after_a_concurrent_change)
    repricing.run_jobs(session_factory, budget_s=3600)
    assert len(plans) == 2  # the optimistic try, then the locked one
    with session_factory() as session:
        prices = _prices(session, project_id)
        assert set(prices.values()) == {(Decimal("0.0014"), "computed", "override:1")}
        job = session.scalars(select(RepricingJob)).one()
        assert (job.status, job.spans_repriced, job.batches) == ("done", 6, 1)
        assert job.cost_after == Decimal("0.0084")
    with session_factory.begin() as session:
        assert rollups.reconcile(session, project_id, START, END).ok
