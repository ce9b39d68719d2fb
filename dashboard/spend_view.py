"""The Spend page: month to date, forecast vs budget, where the money goes, unit costs, and
spend anomalies. Finance, admins and engineers see it; it never reads prompt content.

Floats appear only in the figures; tables show Decimal money formatted as text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.budget_state import BudgetStatus
from core.forecast import Forecast
from core.spend_report import DailyPart, Driver, UnitCost
from dashboard import access, data_spend
from dashboard.figures import plot_text
from dashboard.overview_view import change, show
from dashboard.transcript import format_cost

SPEND_ROLES = frozenset({"admin", "engineer", "finance"})
WINDOWS = {"30d": ("Last 30 days", 30), "7d": ("Last 7 days", 7), "90d": ("Last 90 days", 90)}
STACKS = {"model": "Model", "team": "Team", "feature": "Feature", "customer": "Customer"}
PALETTE = ["#7c3aed", "#2563eb", "#0891b2", "#059669", "#d97706", "#db2777", "#dc2626",
           "#65a30d", "#9ca3af"]  # fmt: skip
LAYOUT: dict[str, Any] = {"margin": {"l": 10, "r": 10, "t": 30, "b": 40}, "height": 340,
                          "legend": {"orientation": "h", "y": -0.18}}  # fmt: skip


def _money(value: Decimal | None) -> str:
    """Cents from a dollar up; small amounts keep the digits that make them non-zero."""
    if value is None or abs(value) < 1:
        return format_cost(value if value is None else value.quantize(Decimal("0.0001")))
    return f"${value:,.2f}"


def forecast_figure(f: Forecast, limits: list[tuple[str, Decimal]]) -> Any:
    """Cumulative spend this month, the expected path and its 80 % band, and budget lines."""
    fig = go.Figure()
    running, actual_x, actual_y = Decimal(0), [], []
    for day, cost in f.actual:
        running += cost
        actual_x.append(day)
        actual_y.append(float(running))
    if f.expected:
        remaining = f.remaining or Decimal(1)
        low_share, high_share = (f.low - f.spent) / remaining, (f.high - f.spent) / remaining
        xs, mid, low, high, so_far = [], [], [], [], Decimal(0)
        anchor = f.actual[-1][0] if f.actual else f.period_start - timedelta(days=1)
        xs.append(anchor)
        mid.append(float(f.spent))
        low.append(float(f.spent))
        high.append(float(f.spent))
        for day, cost in f.expected:
            so_far += cost
            xs.append(day)
            mid.append(float(f.spent + so_far))
            low.append(float(f.spent + so_far * low_share))
            high.append(float(f.spent + so_far * high_share))
        fig.add_scatter(x=xs + xs[::-1], y=high + low[::-1], fill="toself", mode="lines",
                        name="80 % interval", fillcolor="rgba(124,58,237,0.15)", line={"width": 0},
                        hoverinfo="skip")  # fmt: skip
        fig.add_scatter(x=xs, y=mid, name="forecast", mode="lines",
                        line={"color": "#7c3aed", "dash": "dash", "width": 2},
                        hovertemplate="%{x}<br>expected $%{y:,.2f}<extra></extra>")  # fmt: skip
    fig.add_scatter(x=actual_x, y=actual_y, name="spent", mode="lines",
                    line={"color": "#111827", "width": 3},
                    hovertemplate="%{x}<br>spent $%{y:,.2f}<extra></extra>")  # fmt: skip
    for i, (name, limit) in enumerate(limits):
        fig.add_hline(y=float(limit), line={"color": PALETTE[6 - i % 3], "dash": "dot"},
                      annotation_text=plot_text(f"{name}: {_money(limit)}"),
                      annotation_position="top left")  # fmt: skip
    fig.update_layout(**LAYOUT, yaxis_title="USD, cumulative")
    half_day = timedelta(hours=18)
    fig.update_xaxes(range=[f.period_start - half_day, f.period_end + half_day])
    return fig


def stacked_figure(parts: list[DailyPart], start: date, end: date) -> Any:
    """Spend per day stacked by value, biggest value at the bottom."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    cells: dict[tuple[str, date], Decimal] = {}
    for p in parts:
        totals[p.value] += p.cost
        cells[(p.value, p.day)] = p.cost
    order = sorted(totals, key=lambda v: (v == "(other)", -totals[v]))
    fig = go.Figure()
    for i, value in enumerate(order):
        name = plot_text(value)
        fig.add_bar(x=days, y=[float(cells.get((value, d), 0)) for d in days], name=name,
                    marker_color=PALETTE[i % len(PALETTE)],
                    hovertemplate="%{x}<br>$%{y:,.4f}<extra>" + name + "</extra>")  # fmt: skip
    fig.update_layout(**LAYOUT, barmode="stack", yaxis_title="USD per day")
    return fig


def per_1k_calls_figure(units: list[UnitCost]) -> Any:
    shown = [u for u in units if u.per_1k_calls is not None][:12]
    fig = go.Figure(go.Bar(
        y=[plot_text(u.value) for u in shown], x=[float(u.per_1k_calls or 0) for u in shown],
        orientation="h", marker_color="#2563eb",
        customdata=[u.calls for u in shown],
        hovertemplate="%{y}<br>$%{x:,.4f} per 1,000 calls<br>%{customdata:,} calls<extra></extra>",
    ))  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(**{**LAYOUT, "height": max(220, 40 * len(shown) + 80)},
                      xaxis_title="USD per 1,000 calls")  # fmt: skip
    return fig


def drivers_table(found: list[Driver]) -> pd.DataFrame:
    return pd.DataFrame({
        "value": [d.value for d in found],
        "this window": [_money(d.cost) for d in found],
        "previous window": [_money(d.previous) for d in found],
        "change": [("+" if d.change >= 0 else "−") + _money(abs(d.change)) for d in found],
        "change %": [_pct(change(d.cost, d.previous)) for d in found],
    })  # fmt: skip


def unit_table(units: list[UnitCost]) -> pd.DataFrame:
    return pd.DataFrame({
        "feature": [u.value for u in units],
        "calls": [u.calls for u in units],
        "tokens": [u.tokens for u in units],
        "cost": [_money(u.cost) for u in units],
        "per call": [format_cost(u.per_call) for u in units],
        "per 1,000 calls": [_money(u.per_1k_calls) for u in units],
        "per 1k tokens": [format_cost(u.per_1k_tokens) for u in units],
    })  # fmt: skip


def budget_table(statuses: list[BudgetStatus]) -> pd.DataFrame:
    return pd.DataFrame({
        "budget": [s.name for s in statuses],
        "scope": [s.scope if s.scope == "project" else f"{s.scope} {s.value}" for s in statuses],
        "period": [s.period for s in statuses],
        "limit": [_money(s.limit_usd) for s in statuses],
        "spent": [_money(s.spent) for s in statuses],
        "forecast": [_money(s.expected_total) for s in statuses],
        "forecast / limit": [f"{s.expected_total / s.limit_usd:.0%}" for s in statuses],
        "exhausts on": [s.exhausts_on.isoformat() if s.exhausts_on else "–" for s in statuses],
    })  # fmt: skip


def _stack_label(key: str) -> str:
    return STACKS[key]


def _pct(value: float | None) -> str:
    return "new" if value is None else f"{value:+.0%}"


def render_headline(project_id: int, now: datetime) -> None:
    """Month to date, its forecast and the monthly project budget, as metrics and a chart."""
    f = data_spend.month_forecast(project_id, now)
    today = now.date()
    last_month_end = f.period_start - timedelta(days=1)
    same_day = min(today.day, last_month_end.day)
    before = data_spend.totals(project_id, last_month_end.replace(day=1),
                               last_month_end.replace(day=same_day))  # fmt: skip
    calls = data_spend.totals(project_id, f.period_start, today).calls
    statuses = data_spend.budget_statuses(project_id, now)
    monthly = [s for s in statuses if s.period == "month" and s.scope == "project"]
    cols = st.columns(4)
    show(cols[0], "Month to date", _money(f.spent), change(f.spent, before.cost), "inverse")
    band = f"80 %: {_money(f.low)} – {_money(f.high)}"
    cols[1].metric("Forecast, month end", _money(f.expected_total), delta=band,
                   delta_color="off", delta_arrow="off")  # fmt: skip
    if monthly:
        limit = monthly[0].limit_usd
        cols[2].metric("Monthly budget", _money(limit),
                       delta=f"forecast {f.expected_total / limit:.0%} of it",
                       delta_color="inverse" if f.expected_total > limit else "off",
                       delta_arrow="off")  # fmt: skip
    else:
        cols[2].metric("Monthly budget", "–", delta="no project budget", delta_color="off",
                       delta_arrow="off")  # fmt: skip
    per_1k = f.spent * 1000 / calls if calls else None
    cols[3].metric("Calls this month", f"{calls:,}", delta=f"{_money(per_1k)} per 1,000 calls",
                   delta_color="off", delta_arrow="off")  # fmt: skip
    st.caption(f"Same days last month: {_money(before.cost)}. The forecast ({f.method}, "
               f"{f.history_days} days of history) learns the weekly pattern and the recent "
               "level and trend; the band holds the month's total with 80 % probability."
               )  # fmt: skip
    savings = data_spend.savings_available(project_id, now)
    if savings is not None:
        st.page_link("views/models.py", icon=":material/savings:",
                     label=f"Savings available: {_money(savings)} a month by moving tasks to "
                     "cheaper models of the same measured quality (see Models)")  # fmt: skip
    st.subheader(f"{f.period_start:%B %Y}: spent and forecast")
    limits = [(s.name, s.limit_usd) for s in monthly]
    st.plotly_chart(forecast_figure(f, limits), key="spend_forecast")
    if statuses:
        st.subheader("Budgets")
        st.dataframe(budget_table(statuses), hide_index=True, key="spend_budgets")


def render_breakdowns(project_id: int, start: date, end: date, label: str) -> None:
    days = (end - start).days + 1
    prev = (start - timedelta(days=days), start - timedelta(days=1))
    st.subheader(f"Daily spend, {label.lower()}")
    stack: str = st.radio("Stack by", list(STACKS), format_func=_stack_label, horizontal=True,
                     key="spend_stack")  # fmt: skip
    parts = data_spend.daily_by(project_id, stack, start, end)
    if parts:
        st.plotly_chart(stacked_figure(parts, start, end), key="spend_stacked")
    else:
        st.info("No spend in this window.")
    left, right = st.columns(2)
    with left:
        st.subheader("Top cost drivers")
        by: str = st.selectbox("Driver dimension", list(STACKS), format_func=_stack_label,
                          index=3, key="spend_driver_dim")  # fmt: skip
        found = data_spend.drivers(project_id, by, (start, end), prev)
        st.caption(f"{label} vs the {days} days before, biggest change first.")
        st.dataframe(drivers_table(found), hide_index=True, key="spend_drivers")
    with right:
        st.subheader("Cost per 1,000 calls by model")
        models = data_spend.unit_costs(project_id, "model", start, end)
        if models:
            st.plotly_chart(per_1k_calls_figure(models), key="spend_per_1k")
        else:
            st.caption("No calls in this window.")
    st.subheader("Unit cost per feature")
    features = data_spend.unit_costs(project_id, "feature", start, end)
    st.dataframe(unit_table(features), hide_index=True, key="spend_units")


def anomaly_table(found: list[data_spend.Anomaly]) -> pd.DataFrame:
    return pd.DataFrame({
        "day": [a.day.isoformat() for a in found],
        "series": [a.series for a in found],
        "spent": [_money(a.actual) for a in found],
        "expected": [_money(a.expected) for a in found],
        "driven by": [a.drivers or "–" for a in found],
        "severity": [a.severity for a in found],
    })  # fmt: skip


def render_anomalies(project_id: int, since: date) -> None:
    found = data_spend.recent_anomalies(project_id, since)
    if not found:
        st.caption("No spend anomaly in the last 30 days: every series stayed within its "
                   "weekday-aware band.")  # fmt: skip
        return
    # A table, not markdown: series and driver names come from span attributes.
    st.dataframe(anomaly_table(found), hide_index=True, key="spend_anomalies")
    st.caption("Each day and series is judged against its own weekday-aware median/MAD band "
               "over the four weeks before; the drivers carry most of the excess.")  # fmt: skip


def render(project_id: int) -> None:
    st.title("Spend")
    if access.current_role() not in SPEND_ROLES:
        st.warning("Spend is shown to the finance, engineer and admin roles.")
        return
    wanted = str(st.query_params.get("window", "30d"))
    keys = list(WINDOWS)
    window = st.sidebar.selectbox("Breakdown window", keys, format_func=lambda k: WINDOWS[k][0],
                                  index=keys.index(wanted) if wanted in keys else 0,
                                  key="spend_window")  # fmt: skip
    st.query_params["window"] = window
    now = datetime.now(UTC)
    render_headline(project_id, now)
    st.subheader("Recent spend anomalies")
    render_anomalies(project_id, now.date() - timedelta(days=30))
    label, days = WINDOWS[window]
    end = now.date()
    render_breakdowns(project_id, end - timedelta(days=days - 1), end, label)
