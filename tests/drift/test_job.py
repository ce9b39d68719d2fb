"""The drift job on synthetic traffic stored through the write path."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import list_alerts
from core.drift_job import pin_baseline, run_drift
from core.ingest import SpanRecord, store_spans
from core.models import Project
from core.models_drift import DriftResult, DriftRun, ModelChange
from tests.drift.conftest import RECENT_END, Loader
from tests.drift.synthetic import Shift

SUMMARY_SEGMENTS = {("feature", "summary"), ("model", "model-summary"), ("name", "chat summary")}


def test_a_large_length_shift_is_found_in_its_segments_only(
    load_traffic: Loader, session_factory: sessionmaker[Session], project: Project
) -> None:
    load_traffic(seed=5, shift=Shift(length_sd=1.5))
    with session_factory.begin() as session:
        summary = run_drift(session, project.id, as_of=RECENT_END)
    drifted = {(kind, value) for kind, value, _ in summary.drifted}
    metrics = {metric for _, _, metric in summary.drifted}
    assert drifted == SUMMARY_SEGMENTS
    assert "input_tokens" in metrics
    assert metrics <= {"input_tokens", "cost_per_call"}
    with session_factory() as session:
        row = session.scalars(select(DriftResult).where(
            DriftResult.segment_kind == "feature", DriftResult.segment_value == "summary",
            DriftResult.metric == "input_tokens")).one()  # fmt: skip
        assert row.drifted
        assert row.effect_name == "psi"
        assert row.effect > 0.2
        assert row.q_value <= 0.01
        assert row.recent["p50"] > row.baseline["p50"] * 1.3
        assert len(row.baseline["bins"]) == len(row.baseline["edges"]) + 1


def test_no_shift_raises_nothing_over_hundreds_of_tests(
    load_traffic: Loader, session_factory: sessionmaker[Session], project: Project
) -> None:
    load_traffic(seed=9)
    with session_factory.begin() as session:
        summary = run_drift(session, project.id, as_of=RECENT_END)
    assert summary.tests > 150
    assert summary.drifted == []
    with session_factory() as session:
        assert list_alerts(session, project.id, kinds=["drift"]) == []


def test_alerts_are_raised_once_however_often_the_run_repeats(
    load_traffic: Loader, session_factory: sessionmaker[Session], project: Project
) -> None:
    load_traffic(seed=5, shift=Shift(vocabulary=0.5))
    with session_factory.begin() as session:
        first = run_drift(session, project.id, as_of=RECENT_END)
    with session_factory.begin() as session:
        again = run_drift(session, project.id, as_of=RECENT_END + timedelta(minutes=30))
    assert first.alerts == len(first.drifted) > 0
    assert again.drifted == first.drifted
    assert again.alerts == 0
    with session_factory() as session:
        alerts = list_alerts(session, project.id, kinds=["drift"])
        assert len(alerts) == len(first.drifted)
        assert any("prompt_vocabulary" in a.title for a in alerts)
        assert session.scalar(select(func.count()).select_from(DriftRun)) == 2


def test_a_pinned_baseline_finds_a_shift_older_than_the_rolling_baseline(
    load_traffic: Loader, session_factory: sessionmaker[Session], project: Project
) -> None:
    load_traffic(seed=3, shift=Shift(length_sd=2.0))
    later = RECENT_END + timedelta(days=9)  # both rolling windows now hold no traffic at all
    with session_factory.begin() as session:
        assert run_drift(session, project.id, as_of=later).tests == 0
        pin_baseline(session, project.id, RECENT_END - timedelta(days=8),
                     RECENT_END - timedelta(days=1), segment_kind="feature",
                     segment_value="summary")  # fmt: skip
        pin_baseline(session, project.id, RECENT_END - timedelta(days=8),
                     RECENT_END - timedelta(days=1))  # fmt: skip
        summary = run_drift(session, project.id, as_of=RECENT_END)
    assert ("feature", "summary", "input_tokens") in summary.drifted


def _llm_span(index: int, hours_ago: float, response_model: str, fingerprint: str) -> SpanRecord:
    start = RECENT_END - timedelta(hours=hours_ago)
    return SpanRecord(
        trace_id=f"{index:032x}", span_id=f"{index:016x}", name="chat gpt-4o", kind="llm",
        start_time=start, end_time=start + timedelta(seconds=1), provider="openai",
        request_model="gpt-4o", response_model=response_model, input_tokens=10, output_tokens=5,
        attributes={"gen_ai.openai.response.system_fingerprint": fingerprint},
    )  # fmt: skip


def test_a_silent_model_change_is_recorded_and_alerted_once(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [_llm_span(i, 150 - i * 0.5, "gpt-4o-2024-08-06", "fp_a") for i in range(200)]
    spans += [_llm_span(1000 + i, 49 - i * 0.2, "gpt-4o-2024-11-20", "fp_b") for i in range(200)]
    with session_factory.begin() as session:
        store_spans(session, project.id, spans)
    for _ in range(2):
        with session_factory.begin() as session:
            run_drift(session, project.id, as_of=RECENT_END)
    with session_factory() as session:
        changes = session.scalars(select(ModelChange).order_by(ModelChange.attribute)).all()
        alerts = list_alerts(session, project.id, kinds=["model_change"])
    assert [(c.attribute, c.old_value, c.new_value) for c in changes] == [
        ("response_model", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"),
        ("system_fingerprint", "fp_a", "fp_b"),
    ]
    assert changes[0].changed_at == (RECENT_END - timedelta(hours=49)).replace(minute=0)
    assert len(alerts) == 2
    assert any("gpt-4o-2024-08-06 → gpt-4o-2024-11-20" in a.title for a in alerts)


def test_a_steady_mix_of_two_snapshots_is_not_a_change(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    spans = [_llm_span(i, 150 - i * 0.3, "gpt-4o-2024-08-06" if i % 3 else "gpt-4o-2024-11-20",
                       "fp_a") for i in range(400)]  # fmt: skip
    with session_factory.begin() as session:
        store_spans(session, project.id, spans)
        summary = run_drift(session, project.id, as_of=RECENT_END)
    assert summary.model_changes == 0
