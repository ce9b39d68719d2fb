"""The Users page: each end user's traces, LLM calls, tokens, cost, errors and last visit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core.queries_views import EndUser
from dashboard import data
from dashboard.state import RANGES, time_window
from dashboard.transcript import format_cost

_PAGES_KEY = "us_pages"


def table(users: Sequence[EndUser]) -> pd.DataFrame:
    """Rows of the users table; every cell is plain data, shown as text by the grid."""
    return pd.DataFrame(
        {
            "user": [u.user_id for u in users],
            "last seen": [u.last_seen.astimezone(UTC).replace(tzinfo=None) for u in users],
            "traces": [u.traces for u in users],
            "LLM calls": [u.llm_calls for u in users],
            "tokens": [u.total_tokens for u in users],
            "cost": [format_cost(u.cost) for u in users],
            "traces with errors": [u.errors for u in users],
            "first seen": [u.first_seen.astimezone(UTC).replace(tzinfo=None) for u in users],
        }
    )


def render(project_id: int) -> None:
    st.title("Users")
    st.caption("End users of your application, from the user id your traces carry.")
    range_key = st.sidebar.selectbox("Time range", list(RANGES), index=2, key="us_range",
                                     format_func=lambda k: RANGES[k][0])  # fmt: skip
    state = st.session_state.get(_PAGES_KEY)
    if not isinstance(state, dict) or state.get("key") != (project_id, range_key):
        state = {"key": (project_id, range_key), "cursors": [None]}
        st.session_state[_PAGES_KEY] = state
    cursors: list[str | None] = state["cursors"]
    start = time_window(range_key, datetime.now(UTC))[0]
    page = data.end_users(project_id, start, cursors[-1])
    if not page.items:
        st.info("No traces with a user id in this time range.")
        return
    st.dataframe(table(page.items), hide_index=True, key=f"us_table_{len(cursors)}")
    back, where, forward = st.columns([1, 2, 1])
    if back.button("← More recent", disabled=len(cursors) == 1, key="us_newer"):
        cursors.pop()
        st.rerun()
    where.text(f"Page {len(cursors)}")
    if forward.button("Less recent →", disabled=page.next_cursor is None, key="us_older"):
        cursors.append(page.next_cursor)
        st.rerun()
