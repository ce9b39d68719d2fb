"""The dashboard's entry point: ``streamlit run dashboard/app.py``.

Reads ``TOKENTRAIL_DATABASE_URL`` through :func:`core.settings.get_settings`; the pages live in
``dashboard/views`` and only render what :mod:`dashboard.data` returns.
"""

from __future__ import annotations

import streamlit as st

from core.errors import ConfigurationError
from dashboard import access
from dashboard.project import choose_project


def main() -> None:
    st.set_page_config(page_title="TokenTrail", page_icon=":material/route:", layout="wide")
    pages = [
        st.Page("views/overview.py", title="Overview", icon=":material/monitoring:",
                url_path="overview", default=True),
        st.Page("views/traces.py", title="Traces", icon=":material/list:", url_path="traces"),
        st.Page("views/sessions.py", title="Sessions", icon=":material/forum:",
                url_path="sessions"),
        st.Page("views/users.py", title="Users", icon=":material/group:", url_path="users"),
        st.Page("views/budgets.py", title="Budgets", icon=":material/savings:",
                url_path="budgets"),
        st.Page("views/alerts.py", title="Alerts", icon=":material/notifications:",
                url_path="alerts"),
        st.Page("views/spend.py", title="Spend", icon=":material/payments:", url_path="spend"),
        st.Page("views/chargeback.py", title="Chargeback", icon=":material/receipt_long:",
                url_path="chargeback"),
        st.Page("views/prices.py", title="Prices", icon=":material/sell:", url_path="prices"),
        st.Page("views/quality.py", title="Quality", icon=":material/verified:",
                url_path="quality"),
        st.Page("views/drift.py", title="Drift", icon=":material/timeline:", url_path="drift"),
        st.Page("views/models.py", title="Models", icon=":material/model_training:",
                url_path="models"),
        st.Page("views/trace_detail.py", title="Trace detail", icon=":material/account_tree:",
                url_path="trace", visibility="hidden"),
    ]  # fmt: skip
    try:
        user = access.gate()
        page = st.navigation(pages)
        project_id = choose_project(None if user is None else set(user.roles))
    except ConfigurationError as exc:
        st.error("The dashboard cannot reach its database.")
        st.text(str(exc))
        st.stop()
    if project_id is None:
        st.info(
            "No project yet. Create one and an API key with the TokenTrail CLI, then send traces."
            if user is None
            else "Your account has no role in any project yet; ask an admin for one."
        )
        st.stop()
    role = access.remember_role(user, project_id)
    if not access.may_read_content():
        st.sidebar.caption(f"Role: {role}. Prompts and completions are not shown to this role.")
    page.run()


main()
