"""The Overview page: calls, errors, latency, tokens and spend for a time range."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from core.queries import Overview
from dashboard import data, figures
from dashboard.state import DEFAULT_RANGE, RANGES, hour_window
from dashboard.transcript import format_cost, format_ms, format_tokens


def render_metrics(totals: Overview) -> None:
    rate = f"{totals.errors / totals.calls:.1%} of calls" if totals.calls else None
    top = st.columns(4)
    top[0].metric("Traces", f"{totals.traces:,}")
    top[1].metric("LLM calls", f"{totals.calls:,}")
    top[2].metric("LLM errors", f"{totals.errors:,}", delta=rate, delta_color="off")
    top[3].metric("Spend", format_cost(totals.cost))
    bottom = st.columns(4)
    bottom[0].metric("p50 latency", format_ms(totals.p50_ms))
    bottom[1].metric("p95 latency", format_ms(totals.p95_ms))
    bottom[2].metric("Tokens", format_tokens(totals.total_tokens))
    bottom[3].metric("Traces with errors", f"{totals.error_traces:,}")
    if totals.unpriced_calls:
        st.warning(
            f"{totals.unpriced_calls:,} LLM calls have no known price; spend leaves them out."
        )


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
    render_metrics(totals)
    st.subheader("Spend per day (UTC)")
    if totals.daily:
        st.plotly_chart(figures.daily_spend(totals.daily), key="daily_spend")
    else:
        st.info("No LLM calls in this time range.")
