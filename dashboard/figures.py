"""Plotly figures. Floats appear here only, at the plotting edge.

Plotly draws a small HTML-like markup in its labels (``<b>``, ``<a href>``...), so every string
that came from a span is escaped first and shows up as the literal text it is.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from core.queries import DailySpend, SpanView
from dashboard.transcript import span_tree

KIND_COLOURS = {
    "llm": "#7c3aed", "chain": "#2563eb", "agent": "#0891b2", "tool": "#d97706",
    "retriever": "#059669", "embedding": "#db2777", "other": "#6b7280",
}  # fmt: skip
#: Longest span name drawn on the chart axis; the span tree shows the full name.
MAX_LABEL_CHARS = 48


def plot_text(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """``text`` made inert for Plotly labels: cut to ``limit`` and HTML-escaped."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(cut, quote=True)


def waterfall(spans: Sequence[SpanView]) -> Any:
    """A timeline of the spans (tree order), each bar from its offset to the trace start."""
    ordered = span_tree(spans)
    if not ordered:
        return go.Figure()
    t0 = min(s.start_time for s in spans)
    rows = []
    for index, (span, depth) in enumerate(ordered, start=1):
        kind = span.kind if span.kind in KIND_COLOURS else "other"
        offset = (span.start_time - t0).total_seconds() * 1000.0
        label = f"{index}. {'· ' * depth}{plot_text(span.name)}"
        rows.append((kind, label, offset, max(span.duration_ms, 0.0)))
    fig = go.Figure()
    for kind, colour in KIND_COLOURS.items():
        mine = [r for r in rows if r[0] == kind]
        if mine:
            fig.add_bar(
                name=kind, orientation="h", marker_color=colour,
                y=[r[1] for r in mine], base=[r[2] for r in mine], x=[r[3] for r in mine],
                hovertemplate="%{y}<br>start +%{base:,.1f} ms<br>%{x:,.1f} ms<extra></extra>",
            )  # fmt: skip
    fig.update_yaxes(autorange="reversed", categoryorder="array",
                     categoryarray=[r[1] for r in rows])  # fmt: skip
    fig.update_layout(
        barmode="overlay", height=max(220, 26 * len(rows) + 80), xaxis_title="ms from trace start",
        margin={"l": 10, "r": 10, "t": 30, "b": 40}, legend_title_text="kind",
    )  # fmt: skip
    return fig


def fill_days(daily: Sequence[DailySpend]) -> list[DailySpend]:
    """``daily`` with the days between the first and the last that had no spend, at zero."""
    if not daily:
        return []
    by_day = {d.day: d for d in daily}
    first, last = daily[0].day, daily[-1].day
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [by_day.get(day) or DailySpend(day, 0, 0, Decimal(0)) for day in days]


def daily_spend(daily: Sequence[DailySpend]) -> Any:
    """Spend per UTC day as bars."""
    filled = fill_days(daily)
    days: list[date] = [d.day for d in filled]
    fig = go.Figure(
        go.Bar(
            x=days, y=[float(d.cost) for d in filled], customdata=[d.calls for d in filled],
            marker_color=KIND_COLOURS["llm"],
            hovertemplate="%{x}<br>$%{y:,.4f}<br>%{customdata:,} calls<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(yaxis_title="USD", height=320, margin={"l": 10, "r": 10, "t": 20, "b": 40})
    return fig
