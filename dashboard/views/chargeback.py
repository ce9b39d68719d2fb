"""Chargeback: a month's statement per team or per customer, with downloads.

The total reconciles exactly with the month's span costs (rollups, Decimal); spend without an
owner is its own ``(unattributed)`` line. Owner names come from spans: they are shown in
tables, widgets and escaped chart labels, never as markdown.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import cost_exports
from core.cost_reports import Statement
from dashboard import access, data_costs
from dashboard.figures import plot_text
from dashboard.project import current_project
from dashboard.transcript import format_cost

FORMATS = {"CSV": "csv", "Excel (XLSX)": "xlsx", "Parquet": "parquet"}


def usd(amount: Decimal) -> str:
    return f"${amount:,.2f}" if abs(amount) >= 1 else format_cost(amount)


def owner_table(found: Statement) -> pd.DataFrame:
    return pd.DataFrame({
        found.by: [o.owner for o in found.owners],
        "cost": [usd(o.cost) for o in found.owners],
        "share %": [float(o.share) for o in found.owners],
        "calls": [o.calls for o in found.owners],
    })  # fmt: skip


def line_table(found: Statement) -> pd.DataFrame:
    return pd.DataFrame({
        found.by: [line.owner for line in found.lines],
        "provider": [line.provider for line in found.lines],
        "model": [line.model for line in found.lines],
        "calls": [line.calls for line in found.lines],
        "input tokens": [line.input_tokens for line in found.lines],
        "output tokens": [line.output_tokens for line in found.lines],
        "unpriced calls": [line.unpriced_calls for line in found.lines],
        "cost (USD)": [str(line.cost.normalize()) if line.cost else "0" for line in found.lines],
    })  # fmt: skip


def owner_figure(found: Statement) -> go.Figure:
    owners = list(reversed(found.owners))
    fig = go.Figure(go.Bar(
        x=[float(o.cost) for o in owners], y=[plot_text(o.owner) for o in owners],
        orientation="h", marker_color=["#9ca3af" if o.unattributed else "#2563eb" for o in owners],
        hovertemplate="%{y}: $%{x:,.4f}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(height=80 + 32 * len(owners), margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title=f"Spend by {found.by}", xaxis_title="USD")  # fmt: skip
    return fig


def render(project_id: int) -> None:
    st.title("Chargeback")
    if not data_costs.may_view_finance(access.current_role()):
        st.warning("Chargeback statements are shown to the finance and admin roles.")
        return
    months = data_costs.months_with_spend(project_id)
    left, right = st.columns(2)
    month = left.selectbox("Month (UTC)", months, key="cb_month")
    by = right.radio("Statement per", ["team", "customer"], horizontal=True, key="cb_by")
    found = data_costs.statement(project_id, month, by)
    cols = st.columns(4)
    cols[0].metric("Total", usd(found.total))
    cols[1].metric("Unattributed", usd(found.unattributed_total))
    cols[2].metric("LLM calls", f"{found.calls:,}")
    cols[3].metric("Unpriced calls", f"{found.unpriced_calls:,}")
    st.caption(
        f"Exact total {found.total.normalize() if found.total else 0} USD — equal to the sum of "
        "the month's span costs. Spend without an owner is its own line, never dropped; unpriced "
        "calls (no known price) carry no cost."
    )
    if not found.lines:
        st.info(f"No spend in {month}.")
        return
    st.plotly_chart(owner_figure(found), key="cb_chart")
    st.subheader(f"Per {by}")
    st.dataframe(owner_table(found), hide_index=True, key="cb_owners", column_config={
        "share %": st.column_config.ProgressColumn("share %", min_value=0, max_value=100,
                                                   format="%.2f %%")})  # fmt: skip
    st.subheader("Lines")
    st.dataframe(line_table(found), hide_index=True, key="cb_lines")
    buttons = st.columns(len(FORMATS))
    for column, (label, fmt) in zip(buttons, FORMATS.items(), strict=True):
        column.download_button(
            f"Download {label}", data_costs.statement_file(found, fmt),
            mime=cost_exports.MEDIA_TYPES[fmt],
            file_name=f"chargeback-{by}-{month}.{fmt}", key=f"cb_download_{fmt}",
        )  # fmt: skip


render(current_project()[0])
