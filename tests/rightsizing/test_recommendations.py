"""Right-sizing on synthetic traffic where the right answer is known."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from core.ingest import SpanRecord, store_spans
from core.models import Project
from core.rightsizing import Options, savings_available, task_reports
from core.rightsizing_config import RightsizingSettingsIn, save_rightsizing_settings
from tests.rightsizing.synthetic import NOW, add_calls, add_prices, call_cost


def _report(factory: sessionmaker[Session], project_id: int, **options: object):  # type: ignore[no-untyped-def]
    with factory() as session:
        reports = task_reports(session, project_id, Options(**options), now=NOW)  # type: ignore[arg-type]
    assert len(reports) == 1
    return reports[0]


def test_a_cheaper_model_of_equal_quality_is_recommended_with_the_hand_computed_savings(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, seed=1)
        add_calls(session, project.id, model="small-model", count=120, quality=0.95, seed=2,
                  first=1000)  # fmt: skip
    report = _report(session_factory, project.id)
    rec = report.recommendation
    assert report.task == "classify"
    assert rec.current == "big-model"
    assert rec.recommended == "small-model"
    # By hand: 300 calls in a 30-day window → 300 a month; each saves 0.013 − 0.0013 USD.
    assert call_cost("big-model") == Decimal("0.013")
    assert call_cost("small-model") == Decimal("0.0013")
    expected = ((Decimal("0.013") - Decimal("0.0013")) * 300 * 30 / 30).quantize(Decimal("0.01"))
    assert expected == Decimal("3.51")
    assert rec.monthly_savings == expected
    chosen = next(c for c in rec.candidates if c.model == "small-model")
    assert chosen.verdict == "recommended"
    assert chosen.cost_basis == "computed"
    assert chosen.cost_per_call == Decimal("0.0013")
    assert chosen.test is not None
    assert chosen.test.non_inferior
    assert chosen.test.p_value < 0.05
    big = report.models[0]
    assert (big.model, big.calls, big.scored) == ("big-model", 300, 300)
    assert big.monthly_cost == Decimal("0.013") * 300
    assert big.quality is not None
    assert big.quality.interval is not None
    assert big.quality.interval.low < big.quality.sample.mean < big.quality.interval.high
    assert len(big.example_traces) == 3
    with session_factory() as session:
        assert savings_available(session, project.id, now=NOW) == expected


def test_the_cheapest_of_several_good_models_wins(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, seed=1)
        add_calls(session, project.id, model="small-model", count=100, quality=0.95, seed=2,
                  first=1000)  # fmt: skip
        add_calls(session, project.id, model="tiny-model", count=100, quality=0.96, seed=3,
                  first=2000)  # fmt: skip
    rec = _report(session_factory, project.id).recommendation
    assert rec.recommended == "tiny-model"
    assert rec.monthly_savings == ((Decimal("0.013") - Decimal("0.00065")) * 300).quantize(
        Decimal("0.01")
    )


def test_a_cheaper_but_worse_model_is_not_recommended(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, seed=1)
        add_calls(session, project.id, model="small-model", count=200, quality=0.70, seed=2,
                  first=1000)  # fmt: skip
    rec = _report(session_factory, project.id).recommendation
    assert rec.recommended is None
    assert rec.monthly_savings is None
    assert "no cheaper model is shown to be as good as big-model" in rec.reason
    (small,) = rec.candidates
    assert small.verdict == "inferior"
    assert small.test is not None
    assert not small.test.non_inferior


def test_too_few_scored_calls_give_no_recommendation_said_plainly(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, seed=1)
        add_calls(session, project.id, model="small-model", count=12, quality=1.0, seed=2,
                  first=1000)  # fmt: skip
    rec = _report(session_factory, project.id).recommendation
    assert rec.recommended is None
    assert rec.reason == (
        "No recommendation: small-model has 12 scored calls and big-model has 300; "
        "at least 30 each are needed to compare quality."
    )


def test_tasks_are_compared_only_with_themselves(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=100, quality=0.9, feature="a")
        add_calls(session, project.id, model="small-model", count=100, quality=0.9,
                  feature="b", first=1000)  # fmt: skip
    with session_factory() as session:
        reports = task_reports(session, project.id, now=NOW)
    assert sorted(r.task for r in reports) == ["a", "b"]
    assert all(len(r.models) == 1 for r in reports)
    assert all(r.recommendation.recommended is None for r in reports)
    assert "nothing to compare" in reports[0].recommendation.reason
    with session_factory() as session:
        assert savings_available(session, project.id, now=NOW) is None


def test_span_name_tasks_use_the_parent_span_and_prompt_tasks_the_prompt_version(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    t = NOW - timedelta(days=1)
    spans = [
        SpanRecord(trace_id="a" * 32, span_id="1" * 16, name="summarise_ticket", kind="chain",
                   start_time=t, end_time=t + timedelta(seconds=1)),
        SpanRecord(trace_id="a" * 32, span_id="2" * 16, parent_span_id="1" * 16,
                   name="chat gpt-4o", kind="llm", request_model="gpt-4o", start_time=t,
                   end_time=t + timedelta(seconds=1),
                   details={"prompt": {"name": "summary", "version": "3"}}),
        SpanRecord(trace_id="b" * 32, span_id="3" * 16, name="chat gpt-4o-mini", kind="llm",
                   request_model="gpt-4o-mini", start_time=t, end_time=t + timedelta(seconds=1),
                   details={"prompt": {"name": "summary"}}),
    ]  # fmt: skip
    with session_factory.begin() as session:
        store_spans(session, project.id, spans)
    with session_factory() as session:
        by_parent = task_reports(session, project.id, Options(task_kind="span_name"), now=NOW)
        by_prompt = task_reports(session, project.id, Options(task_kind="prompt"), now=NOW)
    assert sorted(r.task for r in by_parent) == ["chat gpt-4o-mini", "summarise_ticket"]
    assert sorted(r.task for r in by_prompt) == ["summary@3", "summary@latest"]
    with session_factory.begin() as session:
        save_rightsizing_settings(session, project.id, RightsizingSettingsIn(task_key="prompt"),
                                  allow_loopback=False)  # fmt: skip
    with session_factory() as session:
        assert {r.kind for r in task_reports(session, project.id, now=NOW)} == {"prompt"}


def test_a_candidate_without_a_price_is_costed_from_its_own_calls(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_prices(session, project.id)
        add_calls(session, project.id, model="big-model", count=300, quality=0.95, seed=1)
        add_calls(session, project.id, model="house-model", count=100, quality=0.95, seed=2,
                  first=1000, cost=Decimal("0.002"))  # fmt: skip
    rec = _report(session_factory, project.id).recommendation
    (house,) = rec.candidates
    assert (house.cost_basis, house.cost_per_call) == ("observed", Decimal("0.002"))
    assert rec.monthly_savings == ((Decimal("0.013") - Decimal("0.002")) * 300).quantize(
        Decimal("0.01")
    )
