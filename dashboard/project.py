"""Which project the dashboard shows: a sidebar selector mirrored as ``?project=<name>``."""

from __future__ import annotations

import streamlit as st

from core.keys import DEFAULT_PROJECT
from dashboard import data

_ID_KEY = "tt_project_id"
_NAME_KEY = "tt_project_name"


def default_index(names: list[str], wanted: str | None) -> int:
    """The project the URL asks for, else ``default``, else the oldest one."""
    for candidate in (wanted, DEFAULT_PROJECT):
        if candidate in names:
            return names.index(candidate)
    return 0


def choose_project(allowed: set[int] | None = None) -> int | None:
    """Render the project selector over ``allowed`` projects (None: all); the chosen id, or
    None when there is none to show."""
    projects = [(i, n) for i, n in data.projects() if allowed is None or i in allowed]
    if not projects:
        return None
    names = [name for _, name in projects]
    wanted = st.query_params.get("project") or st.session_state.get(_NAME_KEY)
    name = st.sidebar.selectbox("Project", names, index=default_index(names, wanted))
    project_id = dict((n, i) for i, n in projects)[name]
    st.session_state[_ID_KEY], st.session_state[_NAME_KEY] = project_id, name
    st.query_params["project"] = name
    return project_id


def current_project() -> tuple[int, str]:
    """The ``(id, name)`` chosen in this run by :func:`choose_project`."""
    return int(st.session_state[_ID_KEY]), str(st.session_state[_NAME_KEY])
