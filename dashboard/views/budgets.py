"""Budgets: every budget's spend against its limit, one budget's burn-down (spend, limit and
forecast across the period), and — for admins and finance — create, edit, pause and delete.

Names and values come from people: they are shown in tables, widgets and escaped chart labels,
never as markdown.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pydantic import ValidationError

from core.budget_state import BudgetStatus, BurnDown
from core.budgets import BudgetIn, BudgetOut, describe_scope
from dashboard import access, data_governance
from dashboard.figures import plot_text
from dashboard.project import current_project
from dashboard.transcript import format_cost

SCOPES = ["project", "team", "feature", "customer", "model", "user"]
PERIODS = ["month", "week", "day"]


def _pct(fraction: Decimal) -> str:
    return f"{fraction:.0%}"


def usd(amount: Decimal) -> str:
    """Budgets are dollars and cents; below a dollar, enough decimals to see the spend."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else format_cost(amount)


def budget_table(rows: list[tuple[BudgetOut, BudgetStatus]]) -> pd.DataFrame:
    """One line per budget; ``used`` is the fraction of the limit spent (drawn as a bar)."""
    return pd.DataFrame(
        {
            "budget": [b.name for b, _ in rows],
            "limits": [describe_scope(b.scope, b.value) for b, _ in rows],
            "period": [b.period for b, _ in rows],
            "limit": [usd(s.limit_usd) for _, s in rows],
            "spent": [usd(s.spent) for _, s in rows],
            "used": [float(min(s.fraction, Decimal(1))) for _, s in rows],
            "used %": [_pct(s.fraction) for _, s in rows],
            "forecast": [usd(s.expected_total) for _, s in rows],
            "exhausts": [s.exhausts_on.isoformat() if s.exhausts_on else "—" for _, s in rows],
            "mode": ["hard" if b.hard else "soft" for b, _ in rows],
            "state": [_state(b, s) for b, s in rows],
        }
    )


def _state(budget: BudgetOut, status: BudgetStatus) -> str:
    if not budget.enabled:
        return "paused"
    if status.exhausted:
        return "exhausted" + (" (blocking)" if budget.hard else "")
    if status.thresholds_crossed:
        return f"over {status.thresholds_crossed[-1]} %"
    return "ok"


def burn_down_figure(chart: BurnDown, title: str) -> Any:
    """Cumulative spend, the limit, and the forecast with its 80 % interval to period end."""
    s = chart.status
    fig = go.Figure()
    end = s.period_end
    now_x, now_y = chart.expected[0][0], float(chart.expected[0][1])
    fig.add_scatter(x=[now_x, end, end, now_x], y=[now_y, float(s.expected_high),
                    float(s.expected_low), now_y], fill="toself", mode="none",
                    fillcolor="rgba(124,58,237,0.12)", name="forecast 80 % interval",
                    hoverinfo="skip")  # fmt: skip
    fig.add_scatter(x=[t for t, _ in chart.actual], y=[float(v) for _, v in chart.actual],
                    mode="lines", name="spent", line={"color": "#2563eb", "width": 3})  # fmt: skip
    fig.add_scatter(x=[t for t, _ in chart.expected], y=[float(v) for _, v in chart.expected],
                    mode="lines", name="forecast",
                    line={"color": "#7c3aed", "dash": "dash", "width": 2})  # fmt: skip
    fig.add_scatter(x=[s.period_start, end], y=[float(s.limit_usd)] * 2, mode="lines",
                    name="limit", line={"color": "#dc2626", "width": 2})  # fmt: skip
    for threshold in s.thresholds:
        if threshold < 100:
            fig.add_hline(y=float(s.limit_usd) * threshold / 100, line_dash="dot",
                          line_color="#9ca3af", annotation_text=f"{threshold} %")  # fmt: skip
    fig.update_layout(
        title=plot_text(title, 80), height=380, yaxis_title="USD", hovermode="x unified",
        margin={"l": 10, "r": 10, "t": 50, "b": 30}, legend={"orientation": "h", "y": -0.15},
    )  # fmt: skip
    fig.update_yaxes(rangemode="tozero", tickprefix="$")
    return fig


def render_selected(project_id: int, rows: list[tuple[BudgetOut, BudgetStatus]]) -> BudgetOut:
    labels = {f"#{b.id} {b.name}": b for b, _ in rows}
    chosen = labels[st.selectbox("Burn-down of", list(labels), key="bg_selected")]
    status = dict((b.id, s) for b, s in rows)[chosen.id]
    cols = st.columns(4)
    cols[0].metric("Spent", usd(status.spent), delta=f"{_pct(status.fraction)} of limit",
                   delta_color="off", delta_arrow="off")  # fmt: skip
    cols[1].metric(
        "Limit", usd(status.limit_usd), delta=chosen.period, delta_color="off", delta_arrow="off"
    )
    interval = f"{usd(status.expected_low)}–{usd(status.expected_high)}"
    cols[2].metric("Forecast", usd(status.expected_total), delta=interval,
                   delta_color="off", delta_arrow="off")  # fmt: skip
    cols[3].metric("Limit reached", status.exhausts_on.isoformat() if status.exhausts_on
                   else "not this period")  # fmt: skip
    chart = data_governance.budget_burn_down(project_id, chosen.id)
    st.plotly_chart(burn_down_figure(chart, chosen.name), key="bg_chart")
    return chosen


def _parse(values: dict[str, Any]) -> BudgetIn | None:
    """A budget from the form's values, or None after showing what is wrong."""
    try:
        limit = Decimal(str(values["limit"]).strip().lstrip("$").replace(",", ""))
        thresholds = [int(t) for t in str(values["thresholds"]).replace("%", "").split(",")
                      if t.strip()]  # fmt: skip
    except (InvalidOperation, ValueError):
        st.error("The limit must be an amount in USD and thresholds whole percentages, "
                 "e.g. 50, 80, 100.")  # fmt: skip
        return None
    try:
        return BudgetIn(name=values["name"], scope=values["scope"], value=values["value"],
                        period=values["period"], limit_usd=limit, thresholds=thresholds,
                        hard=values["hard"], enabled=values["enabled"])  # fmt: skip
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "budget"
            st.error(f"{where}: {error['msg']}")
        return None


def budget_form(key: str, project_id: int, current: BudgetOut | None = None) -> None:
    """Create (no ``current``) or edit a budget."""
    c = current
    with st.form(key):
        name = st.text_input("Name", value=c.name if c else "", key=f"{key}_name")
        left, right = st.columns(2)
        scope = left.selectbox("Limits", SCOPES, index=SCOPES.index(c.scope) if c else 0,
                               key=f"{key}_scope")  # fmt: skip
        value = right.text_input("Team, feature, customer, model or user (blank for project)",
                                 value=c.value if c else "", key=f"{key}_value")  # fmt: skip
        period = left.selectbox("Period (UTC)", PERIODS, key=f"{key}_period",
                                index=PERIODS.index(c.period) if c else 0)  # fmt: skip
        limit = right.text_input("Limit (USD)", value=str(c.limit_usd) if c else "",
                                 key=f"{key}_limit")  # fmt: skip
        alert_at = ", ".join(map(str, c.thresholds if c else [50, 80, 100]))
        thresholds = left.text_input("Alert at (% of limit)", value=alert_at,
                                     key=f"{key}_thresholds")  # fmt: skip
        hard = right.toggle("Hard: budget_ok() refuses calls once exhausted",
                            value=c.hard if c else False, key=f"{key}_hard")  # fmt: skip
        enabled = left.toggle("Enabled", value=c.enabled if c else True, key=f"{key}_enabled")
        submitted = st.form_submit_button("Save budget" if c else "Create budget")
    if not submitted:
        return
    budget = _parse({"name": name, "scope": scope, "value": value, "period": period,
                     "limit": limit, "thresholds": thresholds, "hard": hard,
                     "enabled": enabled})  # fmt: skip
    if budget is not None:
        data_governance.save_budget(project_id, budget, c.id if c else None)
        st.rerun()


def render_editing(project_id: int, selected: BudgetOut | None) -> None:
    with st.expander("New budget", expanded=selected is None):
        budget_form("bg_new", project_id)
    if selected is None:
        return
    with st.expander("Edit the selected budget"):
        budget_form(f"bg_edit_{selected.id}", project_id, selected)
        left, right = st.columns(2)
        if left.button("Resume" if not selected.enabled else "Pause", key="bg_toggle"):
            data_governance.set_budget_enabled(project_id, selected.id, not selected.enabled)
            st.rerun()
        if right.button("Delete budget", key="bg_delete", type="secondary"):
            data_governance.delete_budget(project_id, selected.id)
            st.rerun()


def render(project_id: int) -> None:
    st.title("Budgets")
    rows = data_governance.statuses(project_id)
    selected = None
    if not rows:
        st.info("No budgets yet. A budget limits a UTC day, week or month of spend for the "
                "project or one team, feature, customer, model or user.")  # fmt: skip
    else:
        st.dataframe(
            budget_table(rows), hide_index=True, key="bg_table",
            column_config={"used": st.column_config.ProgressColumn(
                "used", min_value=0.0, max_value=1.0, format="percent")},
        )  # fmt: skip
        selected = render_selected(project_id, rows)
    if data_governance.may_edit_budgets(access.current_role()):
        render_editing(project_id, selected)
    else:
        st.caption("Admins and finance create and change budgets.")


render(current_project()[0])
