"""The Sessions page: conversations, most recently active first, and one conversation in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core.queries_views import SessionDetail, SessionSummary
from dashboard import access, data
from dashboard.span_view import render_payload
from dashboard.state import RANGES, time_window
from dashboard.transcript import format_cost, format_tokens

_PAGES_KEY = "ss_pages"


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def table(sessions: Sequence[SessionSummary]) -> pd.DataFrame:
    """Rows of the sessions table; every cell is plain data, shown as text by the grid."""
    return pd.DataFrame(
        {
            "last active": [_naive(s.last_seen) for s in sessions],
            "session": [s.session_id for s in sessions],
            "traces": [s.traces for s in sessions],
            "LLM calls": [s.llm_calls for s in sessions],
            "tokens": [s.total_tokens for s in sessions],
            "cost": [format_cost(s.cost) for s in sessions],
            "traces with errors": [s.errors for s in sessions],
            "users": [", ".join(s.user_ids) for s in sessions],
            "started": [_naive(s.first_seen) for s in sessions],
        }
    )


def render_conversation(detail: SessionDetail) -> None:
    s = detail.summary
    st.subheader("Conversation")
    st.text(f"session {s.session_id}   {s.traces} trace(s)   {s.llm_calls} LLM call(s)   "
            f"{format_tokens(s.total_tokens)} tokens   {format_cost(s.cost)}")  # fmt: skip
    if not detail.turns:
        st.caption("No LLM calls in this conversation.")
    if not access.may_read_content():
        st.caption("Prompts and completions are not shown to your role.")
    for number, turn in enumerate(detail.turns, start=1):
        with st.container(border=True):
            st.text(f"{number}. {turn.start_time:%Y-%m-%d %H:%M:%S} UTC · {turn.name} · "
                    f"{turn.model or 'unknown model'} · trace {turn.trace_id}")  # fmt: skip
            render_payload("Input", turn.input, chat=True)
            render_payload("Output", turn.output, chat=True)


def _cursors(key: tuple[object, ...]) -> list[str | None]:
    state = st.session_state.get(_PAGES_KEY)
    if not isinstance(state, dict) or state.get("key") != key:
        state = {"key": key, "cursors": [None]}
        st.session_state[_PAGES_KEY] = state
    cursors: list[str | None] = state["cursors"]
    return cursors


def _pager(cursors: list[str | None], next_cursor: str | None) -> None:
    back, where, forward = st.columns([1, 2, 1])
    if back.button("← Newer", disabled=len(cursors) == 1, key="ss_newer"):
        cursors.pop()
        st.rerun()
    where.text(f"Page {len(cursors)}")
    if forward.button("Older →", disabled=next_cursor is None, key="ss_older"):
        cursors.append(next_cursor)
        st.rerun()


def render(project_id: int) -> None:
    st.title("Sessions")
    range_key = st.sidebar.selectbox("Time range", list(RANGES), index=2, key="ss_range",
                                     format_func=lambda k: RANGES[k][0])  # fmt: skip
    user = st.sidebar.text_input("User", key="ss_user").strip()[:200]
    start = time_window(range_key, datetime.now(UTC))[0]
    cursors = _cursors((project_id, range_key, user))
    page = data.sessions(project_id, start, user or None, cursors[-1])
    if not page.items:
        st.info("No conversations in this time range.")
        return
    st.dataframe(table(page.items), hide_index=True, key=f"ss_table_{len(cursors)}")
    _pager(cursors, page.next_cursor)
    labels = {s.session_id: f"{_naive(s.last_seen):%Y-%m-%d %H:%M} · {s.session_id}"
              for s in page.items}  # fmt: skip
    wanted = str(st.query_params.get("session", ""))
    options = list(labels) if wanted in labels or not wanted else [wanted, *labels]
    chosen = st.selectbox("Open a conversation", options, key="ss_open",
                          format_func=lambda k: labels.get(k, k))  # fmt: skip
    if chosen:
        st.query_params["session"] = chosen
        detail = data.conversation(project_id, chosen, content=access.may_read_content())
        if detail is None:
            st.warning("This conversation is not in the selected project.")
        else:
            render_conversation(detail)
