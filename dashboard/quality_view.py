"""The Quality page: score trends per scorer and segment, distributions, the worst traces and
a review queue that labels low-scored spans good or bad, one at a time.

The finance role sees the scores but never a prompt or completion; only admins and engineers
review.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.review import Bucket, ReviewItem, Segment, TrendPoint, WorstTrace
from dashboard import access, data_quality
from dashboard.figures import plot_text

RANGES = {"24h": ("Last 24 hours", timedelta(hours=24)), "7d": ("Last 7 days", timedelta(days=7)),
          "30d": ("Last 30 days", timedelta(days=30))}  # fmt: skip
SEGMENTS: dict[Segment, str] = {"": "Scorer only", "feature": "Feature", "model": "Model",
                                "name": "Span name"}  # fmt: skip
_SKIPPED = "qv_skipped"


def trace_link(project_name: str, trace_id: str) -> str:
    """The Trace detail page's URL for ``trace_id`` (relative to the dashboard's root)."""
    return "/trace?" + urlencode({"project": project_name, "trace_id": trace_id})


def trend_figure(points: Sequence[TrendPoint], scorer: str | None) -> go.Figure:
    """Lines of the daily mean: one per scorer, or one per segment of ``scorer``."""
    fig = go.Figure()
    series: dict[str, list[TrendPoint]] = {}
    for p in points:
        if scorer is None or p.name == scorer:
            series.setdefault(p.segment or p.name if scorer else p.name, []).append(p)
    for label, rows in sorted(series.items()):
        fig.add_scatter(
            x=[r.day for r in rows], y=[r.mean for r in rows], mode="lines+markers",
            name=plot_text(label or "(none)"), customdata=[r.count for r in rows],
            hovertemplate="%{x|%Y-%m-%d}<br>mean %{y:.3f}<br>%{customdata:,} scores<extra></extra>",
        )  # fmt: skip
    fig.update_layout(height=340, yaxis_title="mean score", margin={"l": 10, "r": 10, "t": 20,
                      "b": 40}, legend_title_text="")  # fmt: skip
    return fig


def distribution_figure(buckets: Sequence[Bucket]) -> go.Figure:
    """Scorers × score tenths, coloured by the share of that scorer's scores."""
    names = sorted({b.name for b in buckets})
    lows = [i / 10 for i in range(10)]
    totals = {n: sum(b.count for b in buckets if b.name == n) for n in names}
    grid = {(b.name, round(b.low, 1)): b.count for b in buckets}
    z = [[grid.get((n, round(lo, 1)), 0) / max(totals[n], 1) for lo in lows] for n in names]
    counts = [[grid.get((n, round(lo, 1)), 0) for lo in lows] for n in names]
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"{lo:.1f}–{lo + 0.1:.1f}" for lo in lows], y=[plot_text(n) for n in names],
        customdata=counts, colorscale="Blues", zmin=0, zmax=1, colorbar={"title": "share"},
        hovertemplate="%{y}<br>%{x}<br>%{customdata:,} scores (%{z:.0%})<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=max(220, 40 * len(names) + 90), xaxis_title="score",
                      margin={"l": 10, "r": 10, "t": 20, "b": 40})  # fmt: skip
    return fig


def worst_table(rows: Sequence[WorstTrace], project_name: str) -> pd.DataFrame:
    return pd.DataFrame({
        "time": [r.start_time.astimezone(UTC).replace(tzinfo=None) for r in rows],
        "trace": [r.name or "(unnamed)" for r in rows],
        "scorer": [r.scorer for r in rows],
        "score": [round(r.value, 3) for r in rows],
        "feature": [r.segment for r in rows],
        "open": [trace_link(project_name, r.trace_id) for r in rows],
    })  # fmt: skip


def _window(range_key: str) -> tuple[datetime, datetime]:
    end = datetime.now(UTC) + timedelta(minutes=1)
    return end - RANGES[range_key][1], end


def render_trends(project_id: int, start: datetime, end: datetime) -> None:
    st.subheader("Score trends")
    segment = st.selectbox("Split by", list(SEGMENTS), format_func=SEGMENTS.__getitem__,
                           key="qv_segment")  # fmt: skip
    points = data_quality.score_trends(project_id, start, end, segment)
    if not points:
        st.info("No scores in this time range.")
        return
    scorer = None
    if segment:
        names = sorted({p.name for p in points})
        scorer = st.selectbox("Scorer", names, key="qv_trend_scorer")
    st.plotly_chart(trend_figure(points, scorer), key="qv_trends")


def render_distribution(project_id: int, start: datetime, end: datetime) -> None:
    st.subheader("Score distributions")
    buckets = data_quality.score_distribution(project_id, start, end)
    if buckets:
        st.plotly_chart(distribution_figure(buckets), key="qv_distribution")


def render_worst(project_id: int, project_name: str, start: datetime, end: datetime) -> None:
    st.subheader("Worst traces")
    rows = data_quality.worst_traces(project_id, start, end)
    if not rows:
        st.caption("No scored traces in this time range.")
        return
    st.dataframe(
        worst_table(rows, project_name), hide_index=True, key="qv_worst",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open trace")},
    )  # fmt: skip


def _review_item(item: ReviewItem, project_id: int, project_name: str, waiting: int) -> None:
    st.caption(f"{waiting} span(s) waiting for review (lowest score first)")
    st.text(f"{item.name}   {item.start_time:%Y-%m-%d %H:%M:%S} UTC   model: {item.model or '—'}"
            f"   feature: {item.feature or '—'}")  # fmt: skip
    st.text(f"Lowest score: {item.worst_score} = {item.worst_value:.3f}")
    st.page_link("views/trace_detail.py", label="Open the trace", icon=":material/open_in_new:",
                 query_params={"project": project_name, "trace_id": item.trace_id})  # fmt: skip
    left, right = st.columns(2)
    left.caption("Prompt")
    left.text(item.input_text or "(no prompt text)")
    right.caption("Completion")
    right.text(item.output_text or "(no completion text)")
    comment = st.text_input("Comment (optional)", key=f"qv_comment_{item.span_id}")
    good, bad, skip = st.columns(3)
    user = access.signed_in_user()
    client_id = f"review:{item.trace_id}:{item.span_id}:{user.email if user else 'open'}"
    for column, label, verdict in ((good, "Good", True), (bad, "Bad", False)):
        if column.button(label, key=f"qv_{label.lower()}", use_container_width=True):
            data_quality.label_span(project_id, item.trace_id, item.span_id, good=verdict,
                                    comment=comment, client_id=client_id)  # fmt: skip
            st.toast(f"Labelled {label.lower()}.")
            st.rerun()
    if skip.button("Skip", key="qv_skip", use_container_width=True):
        st.session_state.setdefault(_SKIPPED, set()).add((item.trace_id, item.span_id))
        st.rerun()


def render_queue(project_id: int, project_name: str, start: datetime, end: datetime) -> None:
    st.subheader("Review queue")
    if not access.may_annotate():
        st.caption("Reviewing spans needs the admin or engineer role.")
        return
    below = st.slider("Scores below", 0.1, 1.0, 0.5, 0.05, key="qv_below")
    items = data_quality.review_queue(project_id, start, end, below=below, scorer=None,
                                      content=access.may_read_content())  # fmt: skip
    skipped = st.session_state.get(_SKIPPED, set())
    waiting = [i for i in items if (i.trace_id, i.span_id) not in skipped]
    if not waiting:
        st.success("Nothing waits for review in this time range.")
        return
    _review_item(waiting[0], project_id, project_name, len(waiting))


def render(project_id: int, project_name: str) -> None:
    st.title("Quality")
    range_key = st.sidebar.selectbox(
        "Time range", list(RANGES), index=1, format_func=lambda k: RANGES[k][0], key="qv_range"
    )
    start, end = _window(range_key)
    render_trends(project_id, start, end)
    render_distribution(project_id, start, end)
    render_worst(project_id, project_name, start, end)
    render_queue(project_id, project_name, start, end)


__all__ = ["distribution_figure", "render", "trace_link", "trend_figure", "worst_table"]
