"""The Drift page: the latest run as a segments × metrics heatmap, one cell's baseline and
recent distributions with the traces that moved, the cell's history, and model changes.

A cell's colour is its effect size over the metric's threshold; a result that is not
significant after the false-discovery-rate control is drawn below 1 whatever its effect, so
only drift reaches the warm end of the scale.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.drift_read import MovedSpan
from core.models_drift import DriftResult, DriftRun, ModelChange
from dashboard import access, data_quality
from dashboard.figures import plot_text
from dashboard.quality_view import trace_link

METRIC_ORDER = ["input_tokens", "output_tokens", "latency_ms", "cost_per_call", "error_rate",
                "truncation_rate", "refusal_rate", "finish_reasons", "prompt_vocabulary",
                "output_vocabulary"]  # fmt: skip
DEFAULT_THRESHOLDS = {"psi": 0.2, "cohen_h": 0.1, "js_mix": 0.02, "js_vocab": 0.05}
#: Colour of a cell (zmax 3): grey up to the threshold (1), orange at it, red far past it.
SCALE = [[0.0, "#f8fafc"], [0.32, "#cbd5e1"], [0.333, "#fb923c"], [1.0, "#b91c1c"]]


def threshold_of(result: DriftResult, thresholds: dict[str, float]) -> float:
    if result.effect_name == "js":
        key = "js_vocab" if result.metric.endswith("vocabulary") else "js_mix"
    else:
        key = result.effect_name
    return thresholds.get(key) or DEFAULT_THRESHOLDS.get(key, 1.0)


def cell_score(result: DriftResult, thresholds: dict[str, float], fdr: float) -> float:
    """Effect over threshold, capped at 3; under 1 unless the result counts as drift."""
    ratio = min(result.effect / threshold_of(result, thresholds), 3.0)
    if result.drifted:
        return ratio
    return min(ratio, 0.95 if result.q_value <= fdr else 0.6)


def segment_label(kind: str, value: str) -> str:
    return "whole project" if kind == "all" else f"{kind}: {value}"


def metric_order(results: Sequence[DriftResult]) -> list[str]:
    metrics = {r.metric for r in results}
    known = [m for m in METRIC_ORDER if m in metrics]
    return known + sorted(metrics - set(known))


def heatmap(results: Sequence[DriftResult], thresholds: dict[str, float], fdr: float) -> Any:
    """Segments (rows, most drifted first) × metrics, coloured by :func:`cell_score`."""
    metrics = metric_order(results)
    cells = {((r.segment_kind, r.segment_value), r.metric): r for r in results}
    segments = sorted({seg for seg, _ in cells}, key=lambda seg: (
        -max(cell_score(cells[(seg, m)], thresholds, fdr) for m in metrics if (seg, m) in cells),
        seg))  # fmt: skip
    z, text, hover = [], [], []
    for seg in segments:
        row_z, row_t, row_h = [], [], []
        for m in metrics:
            r = cells.get((seg, m))
            row_z.append(None if r is None else cell_score(r, thresholds, fdr))
            row_t.append("" if r is None or not r.drifted else "●")
            row_h.append("not tested (too few samples)" if r is None else
                         f"{r.effect_name} {r.effect:.3f}, q={r.q_value:.2g}, "
                         f"n={r.baseline_n:,}→{r.recent_n:,}")  # fmt: skip
        z.append(row_z)
        text.append(row_t)
        hover.append(row_h)
    labels = [plot_text(segment_label(*seg), 40) for seg in segments]
    fig = go.Figure(go.Heatmap(
        z=z, x=metrics, y=labels, text=text, texttemplate="%{text}", customdata=hover,
        colorscale=SCALE, zmin=0, zmax=3, xgap=2, ygap=2,
        colorbar={"title": "effect ÷ threshold", "tickvals": [0, 1, 2, 3]},
        hovertemplate="%{y}<br>%{x}<br>%{customdata}<extra></extra>",
    ))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(260, 26 * len(segments) + 120),
                      margin={"l": 10, "r": 10, "t": 20, "b": 80})  # fmt: skip
    return fig


def bin_labels(edges: Sequence[float]) -> list[str]:
    def fmt(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"

    if not edges:
        return ["all"]
    inner = [f"{fmt(a)}–{fmt(b)}" for a, b in itertools.pairwise(edges)]
    return [f"< {fmt(edges[0])}", *inner, f"≥ {fmt(edges[-1])}"]


def _shares(counts: dict[str, Any] | Sequence[Any]) -> list[float]:
    values = list(counts.values()) if isinstance(counts, dict) else list(counts)
    total = float(sum(values)) or 1.0
    return [float(v) / total for v in values]


def comparison(result: DriftResult) -> Any:
    """Baseline vs recent for one cell: bin shares, rates, reason mix or top tokens."""
    b, r = result.baseline, result.recent
    if "bins" in b:
        x = bin_labels(b.get("edges", []))
        yb, yr = _shares(b["bins"]), _shares(r["bins"])
    elif "rate" in b:
        x, yb, yr = ["rate"], [b["rate"]], [r["rate"]]
    elif "mix" in b:
        x = sorted(set(b["mix"]) | set(r["mix"]))
        yb = _shares({k: b["mix"].get(k, 0) for k in x})
        yr = _shares({k: r["mix"].get(k, 0) for k in x})
    else:
        tb, tr = b.get("top_tokens", {}), r.get("top_tokens", {})
        x = sorted(set(tb) | set(tr), key=lambda t: -(tb.get(t, 0) + tr.get(t, 0)))[:20]
        sb, sr = float(sum(tb.values()) or 1), float(sum(tr.values()) or 1)
        yb, yr = [tb.get(t, 0) / sb for t in x], [tr.get(t, 0) / sr for t in x]
    labels = [plot_text(str(v), 30) for v in x]
    fig = go.Figure()
    fig.add_bar(name="baseline", x=labels, y=yb, marker_color="#94a3b8")
    fig.add_bar(name="recent", x=labels, y=yr, marker_color="#7c3aed")
    fig.update_layout(barmode="group", height=320, yaxis_tickformat=".0%",
                      margin={"l": 10, "r": 10, "t": 20, "b": 40})  # fmt: skip
    return fig


def moved_table(rows: Sequence[MovedSpan], project_name: str) -> pd.DataFrame:
    return pd.DataFrame({
        "time": [r.start_time.astimezone(UTC).replace(tzinfo=None) for r in rows],
        "span": [r.name for r in rows],
        "value": ["" if r.value is None else str(r.value) for r in rows],
        "open": [trace_link(project_name, r.trace_id) for r in rows],
    })  # fmt: skip


def changes_table(rows: Sequence[ModelChange]) -> pd.DataFrame:
    return pd.DataFrame({
        "requested model": [c.request_model for c in rows],
        "what changed": [c.attribute.replace("_", " ") for c in rows],
        "old": [c.old_value for c in rows], "new": [c.new_value for c in rows],
        "since (UTC)": [c.changed_at.astimezone(UTC).replace(tzinfo=None) for c in rows],
        "calls old → new": [f"{c.old_count:,} → {c.new_count:,}" for c in rows],
    })  # fmt: skip


def _header(run: DriftRun) -> None:
    st.caption(
        f"Latest run: recent {run.recent_start:%Y-%m-%d %H:%M} – {run.recent_end:%Y-%m-%d %H:%M} "
        f"UTC against baseline {run.baseline_start:%Y-%m-%d %H:%M} – "
        f"{run.baseline_end:%Y-%m-%d %H:%M}. {run.tests:,} tests, {run.drifted} drifted "
        f"(q ≤ {run.details.get('fdr', 0.01)} and effect past its threshold)."
        + (" Large windows were sampled." if run.sampled else "")
    )


def _token(result: DriftResult) -> str | None:
    """The token whose share grew most, for finding the texts that moved."""
    tb, tr = result.baseline.get("top_tokens", {}), result.recent.get("top_tokens", {})
    sb, sr = float(sum(tb.values()) or 1), float(sum(tr.values()) or 1)
    grown = sorted(tr, key=lambda t: -(tr[t] / sr - tb.get(t, 0) / sb))
    return grown[0] if grown else None


def render_cell(project_id: int, project_name: str, run: DriftRun,
                results: Sequence[DriftResult], thresholds: dict[str, float]) -> None:  # fmt: skip
    ranked = sorted(results, key=lambda r: (not r.drifted, -cell_score(r, thresholds, 1.0),
                                            r.q_value))  # fmt: skip
    segments = list(dict.fromkeys((r.segment_kind, r.segment_value) for r in ranked))
    left, right = st.columns(2)
    seg = left.selectbox("Segment", segments, format_func=lambda s: segment_label(*s),
                         key="dv_segment")  # fmt: skip
    mine = [r for r in ranked if (r.segment_kind, r.segment_value) == seg]
    metric = right.selectbox("Metric", [r.metric for r in mine], key="dv_metric")
    result = next(r for r in mine if r.metric == metric)
    verdict = "drifted" if result.drifted else "steady"
    st.text(f"{segment_label(*seg)} · {metric}: {verdict} — {result.statistic} "
            f"{result.stat_value:.3g}, p={result.p_value:.2g}, q={result.q_value:.2g}, "
            f"{result.effect_name} {result.effect:.3f} (threshold "
            f"{threshold_of(result, thresholds)}), n {result.baseline_n:,} → "
            f"{result.recent_n:,}")  # fmt: skip
    st.plotly_chart(comparison(result), key="dv_comparison")
    token = _token(result) if metric.endswith("vocabulary") else None
    moved = data_quality.moved_spans(project_id, run, result, token)
    st.markdown("**Traces that moved** (recent window)")
    if moved:
        st.dataframe(moved_table(moved, project_name), hide_index=True, key="dv_moved",
                     column_config={"open": st.column_config.LinkColumn(
                         "open", display_text="open trace")})  # fmt: skip
    else:
        st.caption("No span of the recent window stands out on this metric.")


def render_baseline(project_id: int) -> None:
    """The project's pinned baseline, and (admins, engineers) pinning or unpinning one."""
    pinned = [b for b in data_quality.baselines(project_id) if not b.segment_kind]
    box = st.sidebar.expander("Baseline")
    if pinned:
        box.caption(f"Pinned: {pinned[0].start_time:%Y-%m-%d} – {pinned[0].end_time:%Y-%m-%d} "
                    "(UTC, end excluded)")  # fmt: skip
    else:
        box.caption("Rolling: the 7 days before the last 24 hours.")
    if not access.may_annotate():
        return
    today = datetime.now(UTC).date()
    days = box.date_input("Pin to", (today - timedelta(days=14), today - timedelta(days=7)),
                          key="dv_pin_range")  # fmt: skip
    if box.button("Pin baseline", key="dv_pin") and isinstance(days, tuple) and len(days) == 2:
        start = datetime.combine(days[0], time(), tzinfo=UTC)
        end = datetime.combine(days[1], time(), tzinfo=UTC) + timedelta(days=1)
        user = access.signed_in_user()
        data_quality.pin_baseline(project_id, start, end, user.email if user else "open")
        st.rerun()
    if pinned and box.button("Back to rolling", key="dv_unpin"):
        data_quality.unpin_baseline(project_id)
        st.rerun()


def render(project_id: int, project_name: str) -> None:
    st.title("Drift")
    if access.may_annotate() and st.sidebar.button("Run drift now", key="dv_run"):
        summary = data_quality.run_drift_now(project_id)
        st.sidebar.success(f"{summary.tests} tests, {len(summary.drifted)} drifted.")
    render_baseline(project_id)
    run, results = data_quality.latest_drift(project_id)
    if run is None or not results:
        st.info("No drift results yet: the worker compares the last 24 hours with the 7 days "
                "before them every hour, once both windows hold enough LLM calls.")  # fmt: skip
    else:
        _header(run)
        thresholds = dict(run.details.get("thresholds") or DEFAULT_THRESHOLDS)
        fdr = float(run.details.get("fdr", 0.01))
        st.plotly_chart(heatmap(results, thresholds, fdr), key="dv_heatmap")
        render_cell(project_id, project_name, run, results, thresholds)
    st.subheader("Model changes")
    changes = data_quality.model_change_list(project_id)
    if changes:
        st.dataframe(changes_table(changes), hide_index=True, key="dv_changes")
    else:
        st.caption("No silent change of a response model or system fingerprint found.")


__all__ = ["bin_labels", "cell_score", "comparison", "heatmap", "render"]
