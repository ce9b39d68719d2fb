"""Alerts: every alert (budgets, anomalies, drift…) with filters and acknowledgement, and — for
admins — the webhooks alerts are delivered to, with their recent deliveries.

Alert titles and bodies, webhook names and URLs come from data and people: they are shown in
tables and widgets, never as markdown.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.alerts import AlertOut
from core.errors import InvalidInputError, NotFoundError
from core.webhooks import WebhookIn, WebhookOut
from dashboard import access, data_governance
from dashboard.project import current_project

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def alert_table(rows: list[AlertOut]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "raised": [a.created_at.strftime("%Y-%m-%d %H:%M") for a in rows],
            "severity": [a.severity for a in rows],
            "kind": [a.kind for a in rows],
            "title": [a.title for a in rows],
            "details": [a.body for a in rows],
            "acknowledged": [
                f"{a.acknowledged_at:%Y-%m-%d %H:%M} by {a.acknowledged_by}"
                if a.acknowledged_at else "" for a in rows
            ],
        }
    )  # fmt: skip


def masked(url: str) -> str:
    """Scheme and host only: the path of a webhook URL is often its secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else url


def webhook_table(rows: list[WebhookOut]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [w.id for w in rows],
            "name": [w.name for w in rows],
            "url": [masked(w.url) for w in rows],
            "signed": ["yes" if w.has_secret else "no" for w in rows],
            "enabled": [w.enabled for w in rows],
        }
    )


def _actor() -> str:
    user = access.signed_in_user()
    return f"dashboard:{user.email}" if user else "dashboard"


def render_acknowledge(project_id: int, rows: list[AlertOut]) -> None:
    open_alerts = {f"#{a.id} {a.title}": a.id for a in rows if a.acknowledged_at is None}
    if not open_alerts:
        return
    chosen = st.multiselect("Acknowledge", list(open_alerts), key="al_ack_pick")
    if st.button("Acknowledge selected", key="al_ack", disabled=not chosen):
        for label in chosen:
            data_governance.acknowledge(project_id, open_alerts[label], _actor())
        st.rerun()


def render_alerts(project_id: int) -> None:
    kinds = data_governance.alert_kinds(project_id)
    left, right = st.columns([3, 1])
    picked = left.multiselect("Kinds", kinds, key="al_kinds")
    open_only = right.toggle("Open only", value=True, key="al_open")
    rows = data_governance.alert_list(project_id, picked, open_only)
    if not rows:
        st.info("No open alerts." if open_only else "No alerts yet.")
        return
    rows.sort(key=lambda a: (a.acknowledged_at is not None, SEVERITY_ORDER.get(a.severity, 3)))
    st.dataframe(alert_table(rows), hide_index=True, key="al_table")
    if data_governance.may_acknowledge(access.current_role()):
        render_acknowledge(project_id, rows)


def render_webhook_form(project_id: int) -> None:
    with st.form("al_hook_new"):
        url = st.text_input("URL (Slack incoming webhook or any HTTPS endpoint)", key="al_hook_url")
        name = st.text_input("Name", key="al_hook_name")
        secret = st.text_input("Signing secret (optional, 16+ characters)", type="password",
                               key="al_hook_secret")  # fmt: skip
        submitted = st.form_submit_button("Add webhook")
    if not submitted:
        return
    try:
        data = WebhookIn(url=url, name=name, secret=secret or None)
        data_governance.add_webhook(project_id, data)
    except InvalidInputError as exc:
        st.error(f"Refused: {exc}")
        return
    except ValidationError as exc:
        for error in exc.errors():
            st.error(f"{'.'.join(map(str, error['loc']))}: {error['msg']}")
        return
    st.rerun()


def render_webhooks(project_id: int) -> None:
    st.subheader("Webhooks")
    st.caption("Every alert is POSTed as Slack-compatible JSON to each enabled webhook, retried "
               "with backoff. Private, loopback and link-local addresses are refused.")  # fmt: skip
    hooks = data_governance.webhook_list(project_id)
    if hooks:
        st.dataframe(webhook_table(hooks), hide_index=True, key="al_hooks")
        labels = {f"#{w.id} {w.name or masked(w.url)}": w for w in hooks}
        hook = labels[st.selectbox("Webhook", list(labels), key="al_hook_pick")]
        left, right = st.columns(2)
        try:
            if left.button("Pause" if hook.enabled else "Resume", key="al_hook_toggle"):
                data_governance.set_webhook_enabled(project_id, hook.id, not hook.enabled)
                st.rerun()
            if right.button("Delete webhook", key="al_hook_delete"):
                data_governance.delete_webhook(project_id, hook.id)
                st.rerun()
        except (InvalidInputError, NotFoundError) as exc:
            st.error(str(exc))
        sent = data_governance.deliveries(project_id, hook.id, limit=50)
        if sent:
            st.dataframe(pd.DataFrame([d.model_dump() for d in sent]), hide_index=True,
                         key="al_deliveries")  # fmt: skip
        else:
            st.caption("No deliveries to this webhook yet.")
    render_webhook_form(project_id)


def render(project_id: int) -> None:
    st.title("Alerts")
    render_alerts(project_id)
    if data_governance.may_manage_webhooks(access.current_role()):
        render_webhooks(project_id)


render(current_project()[0])
