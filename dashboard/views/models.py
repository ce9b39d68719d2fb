"""Models: per task, the models in use and the cheapest one that is good enough.

Task names, model names and reasons come from span data, so they are shown as text or in
tables, never as markdown; trace links carry only hex ids.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from core.errors import InvalidInputError
from core.experiments import ExperimentIn, ExperimentOut
from core.rightsizing import Candidate, ModelStats, Options, TaskReport
from core.rightsizing_config import TASK_KINDS
from dashboard import access, data_models
from dashboard.project import current_project
from dashboard.transcript import format_cost

DETAIL_PAGE = "views/trace_detail.py"
WINDOWS = {7: "Last 7 days", 14: "Last 14 days", 30: "Last 30 days", 90: "Last 90 days"}
KIND_LABELS = {"feature": "Feature tag", "span_name": "Span name", "prompt": "Prompt + version"}
REPLAY_ROLES = frozenset({"admin", "engineer"})


def _money(value: Decimal | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def _quality(m: ModelStats) -> str:
    if m.quality is None:
        return "–"
    interval = m.quality.interval
    ci = f" [{interval.low:.3f}, {interval.high:.3f}]" if interval else ""
    return f"{m.quality.sample.mean:.3f}{ci}"


def models_table(models: list[ModelStats]) -> pd.DataFrame:
    return pd.DataFrame({
        "model": [m.model for m in models],
        "provider": [m.provider or "–" for m in models],
        "calls": [m.calls for m in models],
        "scored": [m.scored for m in models],
        "quality (95% CI)": [_quality(m) for m in models],
        "p50 latency (ms)": [round(m.p50_ms) for m in models],
        "p95 latency (ms)": [round(m.p95_ms) for m in models],
        "cost / call": [format_cost(m.cost_per_call) for m in models],
        "monthly cost": [_money(m.monthly_cost) for m in models],
        "errors": [m.errors for m in models],
    })  # fmt: skip


def candidates_table(candidates: tuple[Candidate, ...]) -> pd.DataFrame:
    return pd.DataFrame({
        "candidate": [c.model for c in candidates],
        "verdict": [c.verdict.replace("_", " ") for c in candidates],
        "cost / call": [format_cost(c.cost_per_call) for c in candidates],
        "cost basis": [c.cost_basis or "–" for c in candidates],
        "monthly savings": [_money(c.monthly_savings) for c in candidates],
        "difference": [f"{c.test.difference:+.3f}" if c.test else "–" for c in candidates],
        "lower bound": [f"{c.test.lower_bound:+.3f}" if c.test else "–" for c in candidates],
        "p-value": [f"{c.test.p_value:.3g}" if c.test else "–" for c in candidates],
        "why": [c.reason for c in candidates],
    })  # fmt: skip


def _controls(project_id: int) -> Options:
    saved = data_models.settings(project_id)
    left, mid, right, far = st.columns([1, 1, 2, 1])
    window = left.selectbox("Window", list(WINDOWS), index=2, format_func=WINDOWS.__getitem__,
                            key="md_window")  # fmt: skip
    margin = mid.number_input("Margin", min_value=0.005, max_value=0.5, value=saved.margin,
                              step=0.005, format="%.3f", key="md_margin",
                              help="Largest acceptable drop in mean score")  # fmt: skip
    known = data_models.score_names(project_id)
    names = right.multiselect("Quality scores", known,
                              default=[n for n in saved.score_names if n in known], key="md_scores",
                              placeholder="Automatic: people's scores first")  # fmt: skip
    kind = far.selectbox("Task is", list(TASK_KINDS), index=TASK_KINDS.index(saved.task_key),
                         format_func=KIND_LABELS.__getitem__, key="md_kind")  # fmt: skip
    return Options(margin=float(margin), score_names=tuple(names), window_days=int(window),
                   task_kind=kind)  # fmt: skip


def _examples(report: TaskReport, project_name: str) -> None:
    shown = [(m.model, t) for m in report.models for t in m.example_traces[:2]]
    if not shown:
        return
    st.caption("Example scored traces")
    columns = st.columns(min(len(shown), 4))
    for i, (model, trace_id) in enumerate(shown[:8]):
        columns[i % len(columns)].page_link(
            DETAIL_PAGE, label=f"{trace_id[:12]}…", icon=":material/open_in_new:",
            query_params={"trace_id": trace_id, "project": project_name},
            help=f"A scored call of {model}",
        )  # fmt: skip


def render_task(report: TaskReport, project_name: str, index: int) -> None:
    rec = report.recommendation
    with st.container(border=True):
        st.text(f"Task ({KIND_LABELS[report.kind].lower()}): {report.task}")
        quality = ", ".join(report.score_names) or "none yet (no call of this task is scored)"
        st.text(f"Quality score: {quality}")
        if rec.recommended is not None:
            left, right = st.columns([1, 3])
            left.metric("Projected monthly savings", _money(rec.monthly_savings))
            right.text(rec.reason)
        else:
            st.text(rec.reason)
        st.dataframe(models_table(report.models), hide_index=True,
                     key=f"md_models_{index}")  # fmt: skip
        if rec.candidates:
            with st.expander("Evidence: every cheaper candidate and its test"):
                st.dataframe(candidates_table(rec.candidates), hide_index=True,
                             key=f"md_candidates_{index}")  # fmt: skip
        _examples(report, project_name)


def experiments_table(rows: list[ExperimentOut]) -> pd.DataFrame:
    def summary(e: ExperimentOut, key: str) -> str:
        value = e.summary.get(key)
        return "–" if value is None else str(value)

    return pd.DataFrame({
        "id": [e.id for e in rows], "task": [e.task_value for e in rows],
        "baseline": [e.baseline_model for e in rows],
        "candidate": [e.candidate_model for e in rows], "status": [e.status for e in rows],
        "replayed": [summary(e, "replayed") for e in rows],
        "agreement": [summary(e, "agreement") for e in rows],
        "non-inferior": [summary(e, "non_inferior") for e in rows],
        "monthly savings": [summary(e, "monthly_savings") for e in rows],
        "error": [e.error or "" for e in rows],
    })  # fmt: skip


def _replay_form(project_id: int, reports: list[TaskReport]) -> None:
    if access.current_role() not in REPLAY_ROLES:
        st.caption("Admins and engineers can start a replay.")
        return
    with st.form("md_replay"):
        st.caption("Replay recent inputs of a task through another model (needs a replay "
                   "endpoint in the project's right-sizing settings).")  # fmt: skip
        tasks = [r.task for r in reports]
        task = st.selectbox("Task", tasks, key="md_replay_task")
        model = st.text_input("Candidate model", key="md_replay_model", max_chars=200)
        provider = st.text_input("Provider (for prices)", key="md_replay_provider",
                                 max_chars=200)  # fmt: skip
        size = st.number_input("Inputs", min_value=2, max_value=200, value=50, step=1,
                               key="md_replay_size")  # fmt: skip
        submitted = st.form_submit_button("Start replay")
    if submitted:
        try:
            request = ExperimentIn(task=task or "", candidate_model=model,
                                   candidate_provider=provider or None,
                                   sample_size=int(size))  # fmt: skip
            actor = f"dashboard:{access.current_role()}"
            new_id = data_models.start_replay(project_id, request, actor)
        except (InvalidInputError, ValueError) as exc:
            st.error("The replay cannot start.")
            st.text(str(exc))
        else:
            st.success(f"Replay {new_id} queued; a worker runs it shortly.")


def render_experiments(project_id: int, reports: list[TaskReport]) -> None:
    st.subheader("Replay experiments")
    rows = data_models.list_experiments(project_id)
    if rows:
        st.dataframe(experiments_table(rows), hide_index=True, key="md_experiments")
        chosen = st.selectbox("Results of experiment", [e.id for e in rows], key="md_exp")
        results = data_models.experiment_results(project_id, int(chosen))
        if results:
            st.dataframe(pd.DataFrame({
                "trace": [r.trace_id for r in results],
                "candidate answer": [r.output_text or "" for r in results]
                if access.may_read_content() else ["(hidden)"] * len(results),
                "agrees": [r.agrees for r in results],
                "cost": [format_cost(r.cost) for r in results],
                "latency (ms)": [round(r.latency_ms or 0) for r in results],
                "error": [r.error or "" for r in results],
            }), hide_index=True, key="md_results")  # fmt: skip
    else:
        st.caption("No experiments yet.")
    _replay_form(project_id, reports)


def render(project_id: int, project_name: str) -> None:
    st.title("Models")
    options = _controls(project_id)
    reports = data_models.task_reports(project_id, options)
    total = sum((r.recommendation.monthly_savings or Decimal(0) for r in reports), Decimal(0))
    left, right = st.columns(2)
    left.metric("Savings available", f"{_money(total)} / month")
    right.metric("Tasks compared", f"{len(reports):,}")
    st.caption("Savings = (current cost/call − candidate cost/call) × current calls per month; "
               "the candidate is priced on the current model's token mix.")  # fmt: skip
    if not reports:
        st.info("No LLM calls with a task in this window. Tag calls with a feature (or choose "
                "another task definition).")  # fmt: skip
    for index, report in enumerate(reports):
        render_task(report, project_name, index)
    render_experiments(project_id, reports)


render(*current_project())
