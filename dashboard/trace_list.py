"""The Traces page: sidebar filters mirrored into the URL, a keyset-paged table, open a trace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core.queries import SORT_KEYS, TraceSummary
from dashboard import access, data
from dashboard.state import PARAM_NAMES, RANGES, SORT_LABELS, TraceView, time_window
from dashboard.transcript import format_cost

DETAIL_PAGE = "views/trace_detail.py"
_VIEW_KEY = "tl_view"
_PAGES_KEY = "tl_pages"


def _key(name: str) -> str:
    return f"tl_{name}"


def _initial_view() -> TraceView:
    """The URL's view if it names one, else the last view of this session, else the default."""
    params = {name: str(st.query_params[name]) for name in PARAM_NAMES if name in st.query_params}
    if params:
        return TraceView.from_params(params)
    saved = st.session_state.get(_VIEW_KEY)
    return saved if isinstance(saved, TraceView) else TraceView()


def _choice(label: str, name: str, options: Sequence[str]) -> None:
    """A selectbox over ``options`` plus "any" (``""``); a value from the URL is kept."""
    current = st.session_state.get(_key(name), "")
    values = ["", *options] if current in ("", *options) else ["", current, *options]
    st.sidebar.selectbox(label, values, key=_key(name), format_func=lambda v: v or "Any")


def sidebar_filters(project_id: int, now: datetime) -> TraceView:
    """Render the filters; the view they describe, also written to the query string."""
    initial = _initial_view()
    for name in PARAM_NAMES:
        st.session_state.setdefault(_key(name), getattr(initial, name))
    st.sidebar.selectbox("Time range", list(RANGES), key=_key("range"),
                         format_func=lambda k: RANGES[k][0])  # fmt: skip
    facets = data.facets(project_id, time_window(st.session_state[_key("range")], now)[0])
    _choice("Service", "service", facets["service"])
    _choice("Environment", "environment", facets["environment"])
    _choice("Model", "model", facets["model"])
    st.sidebar.text_input("User", key=_key("user"))
    st.sidebar.text_input("Session", key=_key("session"))
    st.sidebar.text_input("Tag", key=_key("tag"))
    _attribution_filters()
    st.sidebar.toggle("Errors only", key=_key("errors"))
    if access.may_read_content():
        st.sidebar.text_input("Search prompts and completions", key=_key("q"))
    else:
        st.session_state[_key("q")] = ""
    st.sidebar.selectbox("Sort by", list(SORT_KEYS), key=_key("sort"),
                         format_func=lambda k: SORT_LABELS[k])  # fmt: skip
    view = TraceView.from_params({n: str(st.session_state[_key(n)]) for n in PARAM_NAMES})
    mirror_params(view)
    st.session_state[_VIEW_KEY] = view
    return view


def _attribution_filters() -> None:
    """Who the spend is for, and cost and latency ranges (blank means any)."""
    with st.sidebar.expander("Team, feature, customer, cost, latency"):
        st.text_input("Provider", key=_key("provider"))
        st.text_input("Team", key=_key("team"))
        st.text_input("Feature", key=_key("feature"))
        st.text_input("Customer", key=_key("customer"))
        low, high = st.columns(2)
        low.text_input("Cost from ($)", key=_key("min_cost"))
        high.text_input("Cost to ($)", key=_key("max_cost"))
        low.text_input("Latency from (ms)", key=_key("min_ms"))
        high.text_input("Latency to (ms)", key=_key("max_ms"))


def mirror_params(view: TraceView) -> None:
    """Make the URL's filter parameters say exactly ``view`` (other parameters are kept)."""
    wanted = view.to_params()
    for name in PARAM_NAMES:
        if name in wanted:
            if st.query_params.get(name) != wanted[name]:
                st.query_params[name] = wanted[name]
        elif name in st.query_params:
            del st.query_params[name]


def _cursors(project_id: int, view: TraceView) -> list[str | None]:
    """The cursors of the pages visited so far (back to page 1 when the view changes)."""
    state = st.session_state.get(_PAGES_KEY)
    if not isinstance(state, dict) or state.get("view") != (project_id, view):
        state = {"view": (project_id, view), "cursors": [None]}
        st.session_state[_PAGES_KEY] = state
    cursors: list[str | None] = state["cursors"]
    return cursors


def table(traces: Sequence[TraceSummary]) -> pd.DataFrame:
    """The rows of the trace table; every cell is plain data, shown as text by the grid."""
    return pd.DataFrame(
        {
            "time": [t.start_time.astimezone(UTC).replace(tzinfo=None) for t in traces],
            "name": [t.name or "" for t in traces],
            "duration (ms)": [round(t.duration_ms, 1) for t in traces],
            "spans": [t.span_count for t in traces],
            "LLM calls": [t.llm_calls for t in traces],
            "tokens": [t.total_tokens for t in traces],
            "cost": [format_cost(t.cost) + ("*" if t.unpriced_calls else "") for t in traces],
            "errors": [t.error_count for t in traces],
            "models": [", ".join(t.models) for t in traces],
            "user": [t.user_id or "" for t in traces],
            "trace id": [t.trace_id for t in traces],
        }
    )


def open_trace(trace_id: str, project_name: str) -> None:
    st.switch_page(DETAIL_PAGE, query_params={"trace_id": trace_id, "project": project_name})


def _pager(cursors: list[str | None], next_cursor: str | None) -> None:
    newer, where, older = st.columns([1, 2, 1])
    if newer.button("← Newer", disabled=len(cursors) == 1, key="tl_newer"):
        cursors.pop()
        st.rerun()
    where.text(f"Page {len(cursors)}")
    if older.button("Older →", disabled=next_cursor is None, key="tl_older"):
        cursors.append(next_cursor)
        st.rerun()


def _picker(traces: Sequence[TraceSummary], selected: list[int], project_name: str) -> None:
    if selected:
        open_trace(traces[selected[0]].trace_id, project_name)
    labels = {t.trace_id: f"{t.start_time:%Y-%m-%d %H:%M:%S} · {t.name or '(unnamed)'}"
              for t in traces}  # fmt: skip
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox("Open a trace", list(labels), format_func=labels.__getitem__,
                            key="tl_open_choice")  # fmt: skip
    if go.button("Open trace", key="tl_open") and chosen:
        open_trace(chosen, project_name)


def render(project_id: int, project_name: str) -> None:
    st.title("Traces")
    view = sidebar_filters(project_id, datetime.now(UTC))
    cursors = _cursors(project_id, view)
    kwargs = view.query_kwargs(datetime.now(UTC))
    page = data.trace_page(project_id, cursors[-1], access.may_read_content(), **kwargs)
    if not page.items:
        st.info("No traces match these filters.")
        _pager(cursors, None)
        return
    event = st.dataframe(table(page.items), hide_index=True, on_select="rerun",
                         selection_mode="single-row", key=f"tl_table_{len(cursors)}")  # fmt: skip
    if any(t.unpriced_calls for t in page.items):
        st.caption("\\* some LLM calls in this trace have no known price")
    _pager(cursors, page.next_cursor)
    _picker(page.items, list(event.selection.rows), project_name)
