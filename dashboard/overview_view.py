"""The Overview page: calls, errors, latency, tokens and spend for a time range."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from core.queries import Overview, ScoreMean
from dashboard import data, figures
from dashboard.state import DEFAULT_RANGE, RANGES, hour_window
from dashboard.transcript import format_cost, format_ms, format_tokens


def change(now: float | Decimal | None, before: float | Decimal | None) -> float | None:
    """The relative change from ``before`` (None when there is nothing to compare with)."""
    if now is None or before is None or not before:
        return None
    return (float(now) - float(before)) / float(before)


def show(column: Any, label: str, value: str, moved: float | None, colour: str = "normal") -> None:
    """A metric with its change against the previous range; no arrow colour for no change."""
    if moved is None:
        column.metric(label, value)
        return
    text = f"{moved:+.0%} vs previous"
    column.metric(label, value, delta=text, delta_color="off" if text[1] == "0" else colour)


def render_metrics(totals: Overview, before: Overview | None = None) -> None:
    def trend(field: str) -> float | None:
        return None if before is None else change(getattr(totals, field), getattr(before, field))

    rate = f"{totals.errors / totals.calls:.1%} of calls" if totals.calls else None
    top = st.columns(4)
    show(top[0], "Traces", f"{totals.traces:,}", trend("traces"))
    show(top[1], "LLM calls", f"{totals.calls:,}", trend("calls"))
    top[2].metric("LLM errors", f"{totals.errors:,}", delta=rate, delta_color="off")
    show(top[3], "Spend", format_cost(totals.cost), trend("cost"), "inverse")
    bottom = st.columns(4)
    show(bottom[0], "p50 latency", format_ms(totals.p50_ms), trend("p50_ms"), "inverse")
    show(bottom[1], "p95 latency", format_ms(totals.p95_ms), trend("p95_ms"), "inverse")
    show(bottom[2], "Tokens", format_tokens(totals.total_tokens), trend("total_tokens"), "off")
    show(bottom[3], "Traces with errors", f"{totals.error_traces:,}", trend("error_traces"),
         "inverse")  # fmt: skip
    if totals.unpriced_calls:
        st.warning(
            f"{totals.unpriced_calls:,} LLM calls have no known price; spend leaves them out."
        )


def quality_table(means: list[ScoreMean], before: list[ScoreMean]) -> pd.DataFrame:
    """Mean score per scorer, with the previous range's mean when it had one."""
    earlier = {m.name: m.mean for m in before}
    return pd.DataFrame(
        {
            "score": [m.name for m in means],
            "mean": [None if m.mean is None else round(m.mean, 3) for m in means],
            "scores": [m.count for m in means],
            "previous mean": [None if earlier.get(m.name) is None
                              else round(earlier[m.name] or 0.0, 3) for m in means],
        }
    )  # fmt: skip


def render_quality(means: list[ScoreMean], before: list[ScoreMean]) -> None:
    st.subheader("Quality")
    if not means:
        st.caption("No scores in this time range.")
        return
    st.dataframe(quality_table(means, before), hide_index=True, key="quality")


def render(project_id: int) -> None:
    st.title("Overview")
    options = [key for key in RANGES if key != "1h"]
    wanted = str(st.query_params.get("range", DEFAULT_RANGE))
    range_key = st.sidebar.selectbox(
        "Time range", options, index=options.index(wanted) if wanted in options else 1,
        format_func=lambda k: RANGES[k][0], key="ov_range",
    )  # fmt: skip
    st.query_params["range"] = range_key
    start, end = hour_window(range_key, datetime.now(UTC))
    totals = data.overview(project_id, start, end)
    before = (
        None
        if RANGES[range_key][1] is None
        else data.overview(project_id, start - (end - start), start)
    )
    render_metrics(totals, before)
    if before is not None:
        label = RANGES[range_key][0].lower().replace("last ", "previous ")
        st.caption(f"Changes compare with the {label}.")
    earlier = [] if before is None else data.score_means(project_id, before.start, start)
    render_quality(data.score_means(project_id, start, end), earlier)
    st.subheader("Spend per day (UTC)")
    if totals.daily:
        st.plotly_chart(figures.daily_spend(totals.daily), key="daily_spend")
    else:
        st.info("No LLM calls in this time range.")
