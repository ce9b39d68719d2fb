"""Who is looking: sign-in when dashboard users exist, open laptop mode when none do.

The role decides what the read layer returns (finance gets no prompt or completion content);
pages only ask :func:`current_role` and pass ``content=`` on to :mod:`dashboard.data`.
"""

from __future__ import annotations

import streamlit as st

from core.users import SignedIn, can_annotate, can_read_content
from dashboard import data

_USER_KEY = "tt_signed_in"
_ROLE_KEY = "tt_role"
#: Laptop mode: nobody signs in, everybody is an admin of every project.
OPEN_ROLE = "admin"


def signed_in_user() -> SignedIn | None:
    user = st.session_state.get(_USER_KEY)
    return user if isinstance(user, SignedIn) else None


def _sign_in_form() -> None:
    st.title("Sign in to TokenTrail")
    with st.form("sign_in"):
        email = st.text_input("Email", key="si_email")
        password = st.text_input("Password", type="password", key="si_password")
        submitted = st.form_submit_button("Sign in")
    if submitted:
        user = data.sign_in(email, password)
        if user is None:
            st.error("Unknown email or wrong password.")
            return
        st.session_state[_USER_KEY] = user
        st.rerun()


def gate() -> SignedIn | None:
    """The signed-in user; None in laptop mode. Stops the run at the sign-in form."""
    if not data.sign_in_required():
        st.session_state.pop(_USER_KEY, None)
        st.sidebar.caption(
            "Open laptop mode: no dashboard users exist, so there is no sign-in and every "
            "visitor is an admin. Create a user with `tokentrail users create` to require one."
        )
        return None
    user = signed_in_user()
    if user is None:
        _sign_in_form()
        st.stop()
    st.sidebar.text(f"Signed in as {user.email}")
    if st.sidebar.button("Sign out", key="sign_out"):
        st.session_state.pop(_USER_KEY, None)
        st.rerun()
    return user


def remember_role(user: SignedIn | None, project_id: int) -> str:
    role = OPEN_ROLE if user is None else user.roles.get(project_id, "viewer")
    st.session_state[_ROLE_KEY] = role
    return role


def current_role() -> str:
    return str(st.session_state.get(_ROLE_KEY, OPEN_ROLE))


def may_read_content() -> bool:
    return can_read_content(current_role())


def may_annotate() -> bool:
    return can_annotate(current_role())
