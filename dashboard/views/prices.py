"""Prices: the effective price of each model in use, the project's overrides and their audit
trail, re-pricing jobs with their progress, and — for admins — create, edit or delete an
override after previewing what it would do to stored costs.

Patterns, providers and actors come from people: they are shown in tables and widgets only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from core.prices import PriceOverrideIn, PriceOverrideOut
from core.repricing_preview import ChangePreview
from dashboard import access, data_costs
from dashboard.project import current_project
from dashboard.transcript import format_cost

NEW = "(new override)"
_PREVIEW_KEY = "pr_preview"


def _rate(value: Decimal | None) -> str:
    return "–" if value is None else f"${value.normalize():,f}"


def price_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({
        "provider": [r["provider"] for r in rows],
        "model": [r["model"] for r in rows],
        "input / Mtok": [_rate(r["card"].input_per_mtok) for r in rows],
        "output / Mtok": [_rate(r["card"].output_per_mtok) for r in rows],
        "cache read / Mtok": [_rate(r["card"].cache_read_per_mtok) for r in rows],
        "price source": [r["card"].ref or "unknown: calls stay unpriced" for r in rows],
        "calls (30 d)": [r["calls"] for r in rows],
        "cost (30 d)": [format_cost(r["cost"]) for r in rows],
    })  # fmt: skip


def override_table(rows: list[PriceOverrideOut]) -> pd.DataFrame:
    return pd.DataFrame({
        "id": [o.id for o in rows],
        "model pattern": [o.model_pattern for o in rows],
        "provider": [o.provider or "any" for o in rows],
        "effective from": [o.effective_from.isoformat() for o in rows],
        "input / Mtok": [_rate(o.input_per_mtok) for o in rows],
        "output / Mtok": [_rate(o.output_per_mtok) for o in rows],
        "cache read / Mtok": [_rate(o.cache_read_per_mtok) for o in rows],
        "tiers": [len(o.tiers) for o in rows],
    })  # fmt: skip


def job_table(project_id: int) -> pd.DataFrame:
    jobs = data_costs.job_list(project_id)
    return pd.DataFrame({
        "job": [j.id for j in jobs],
        "status": [j.status for j in jobs],
        "reason": [j.reason for j in jobs],
        "from": [j.range_start.isoformat() for j in jobs],
        "models": [", ".join(j.models) if j.models is not None else "all" for j in jobs],
        "spans scanned": [j.spans_scanned for j in jobs],
        "spans re-priced": [j.spans_repriced for j in jobs],
        "cost before → after": [f"{format_cost(j.cost_before)} → {format_cost(j.cost_after)}"
                                for j in jobs],
        "finished": [j.finished_at.isoformat() if j.finished_at else "" for j in jobs],
    })  # fmt: skip


def audit_table(project_id: int) -> pd.DataFrame:
    changes = data_costs.change_list(project_id)

    def brief(state: dict[str, Any] | None) -> str:
        if state is None:
            return ""
        keys = ("model_pattern", "provider", "effective_from", "input_per_mtok", "output_per_mtok")
        return json.dumps({k: state.get(k) for k in keys}, ensure_ascii=False)

    return pd.DataFrame({
        "when": [c.changed_at.isoformat() for c in changes],
        "who": [c.actor for c in changes],
        "action": [c.action for c in changes],
        "override": [c.override_id for c in changes],
        "before": [brief(c.before) for c in changes],
        "after": [brief(c.after) for c in changes],
    })  # fmt: skip


def preview_table(found: ChangePreview) -> pd.DataFrame:
    models = found.result.models
    return pd.DataFrame({
        "provider": [m.provider for m in models],
        "model": [m.model for m in models],
        "spans affected": [m.spans for m in models],
        "cost before": [format_cost(m.cost_before) for m in models],
        "cost after": [format_cost(m.cost_after) for m in models],
        "change": [format_cost(m.cost_after - m.cost_before) for m in models],
    })  # fmt: skip


def _decimal(text: str, label: str, required: bool) -> Decimal | None:
    text = text.strip()
    if not text:
        if required:
            raise ValueError(f"{label} is required")
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{label} must be a number, e.g. 2.5") from None


def _text(current: PriceOverrideOut | None, field: str) -> str:
    value = None if current is None else getattr(current, field)
    return "" if value is None else str(value.normalize())


PRICE_FIELDS = {"input_per_mtok": "Input $/Mtok", "output_per_mtok": "Output $/Mtok",
                "cache_read_per_mtok": "Cache read $/Mtok (empty: input price)"}  # fmt: skip


def _form(current: PriceOverrideOut | None) -> tuple[dict[str, Any], bool, bool]:
    """The override form; (raw values, preview clicked, save clicked)."""
    with st.form("pr_form"):
        pattern = st.text_input("Model pattern (exact name or glob such as gpt-4o*)",
                                value=current.model_pattern if current else "",
                                key="pr_pattern")  # fmt: skip
        provider = st.text_input("Provider (empty: any)",
                                 value=(current.provider or "") if current else "",
                                 key="pr_provider")  # fmt: skip
        since = current.effective_from if current else datetime.now(UTC).replace(day=1)
        day = st.date_input("Effective from (UTC)", value=since.date(), key="pr_day")
        cols = st.columns(len(PRICE_FIELDS))
        values = {
            name: column.text_input(label, _text(current, name), key=f"pr_{name}")
            for column, (name, label) in zip(cols, PRICE_FIELDS.items(), strict=True)
        }
        left, right = st.columns(2)
        preview = left.form_submit_button("Preview the re-pricing")
        save = right.form_submit_button("Save and re-price", type="primary")
    raw = {"model_pattern": pattern, "provider": provider.strip() or None,
           "effective_from": datetime.combine(day, time(), tzinfo=UTC), **values}  # fmt: skip
    return raw, preview, save


def _parse(raw: dict[str, Any]) -> PriceOverrideIn:
    prices = {k: _decimal(v, k.replace("_per_mtok", "").replace("_", " "), k in
                          ("input_per_mtok", "output_per_mtok"))
              for k, v in raw.items() if k.endswith("_per_mtok")}  # fmt: skip
    return PriceOverrideIn.model_validate({**raw, **prices})


def _show_preview(found: ChangePreview) -> None:
    result = found.result
    st.markdown("**Preview** — nothing is saved yet")
    cols = st.columns(3)
    cols[0].metric("Spans affected", f"{result.spans_affected:,}")
    cols[1].metric("Cost before", format_cost(result.cost_before))
    cols[2].metric("Cost after", format_cost(result.cost_after),
                   delta=format_cost(result.cost_after - result.cost_before),
                   delta_color="inverse")  # fmt: skip
    if result.truncated:
        st.caption(f"Only the first {result.spans_scanned:,} spans were priced for the preview.")
    st.dataframe(preview_table(found), hide_index=True, key="pr_preview_table")


def editor(project_id: int, overrides: list[PriceOverrideOut]) -> None:
    """Create or change an override (preview first), or delete one."""
    labels = [NEW] + [f"#{o.id} {o.model_pattern}" for o in overrides]
    choice = st.selectbox("Override to edit", labels, key="pr_target")
    current = None if choice == NEW else overrides[labels.index(choice) - 1]
    override_id = None if current is None else current.id
    raw, want_preview, want_save = _form(current)
    actor = f"dashboard:{access.current_role()}"
    if want_preview or want_save:
        try:
            data = _parse(raw)
        except (ValueError, ValidationError) as exc:
            st.error(
                f"Not saved: {exc.errors()[0]['msg'] if isinstance(exc, ValidationError) else exc}"
            )
            return
        if want_preview:
            st.session_state[_PREVIEW_KEY] = data_costs.preview(project_id, data, override_id)
        else:
            job = data_costs.save_override(project_id, data, override_id, actor)
            st.session_state.pop(_PREVIEW_KEY, None)
            st.success(f"Saved. Re-pricing job {job} is queued; its progress is below.")
    if current is not None:
        left, right = st.columns(2)
        if left.button(f"Preview deleting #{current.id}", key="pr_del_preview"):
            st.session_state[_PREVIEW_KEY] = data_costs.preview(project_id, None, current.id, True)
        if right.button(f"Delete #{current.id} and re-price", key="pr_delete"):
            job = data_costs.delete_override(project_id, current.id, actor)
            st.session_state.pop(_PREVIEW_KEY, None)
            st.success(f"Deleted. Re-pricing job {job} is queued.")
    found = st.session_state.get(_PREVIEW_KEY)
    if isinstance(found, ChangePreview):
        _show_preview(found)


def render(project_id: int) -> None:
    st.title("Prices")
    role = access.current_role()
    if not data_costs.may_view_finance(role):
        st.warning("Prices are shown to the finance and admin roles.")
        return
    st.subheader("Effective prices of the models in use (last 30 days)")
    st.dataframe(price_table(data_costs.effective_prices(project_id)), hide_index=True,
                 key="pr_prices")  # fmt: skip
    overrides = data_costs.override_list(project_id)
    st.subheader("Overrides (they win over genai-prices)")
    st.dataframe(override_table(overrides), hide_index=True, key="pr_overrides")
    if data_costs.may_edit_prices(role):
        editor(project_id, overrides)
    else:
        st.caption("Only admins change prices.")
    st.subheader("Re-pricing jobs")
    st.dataframe(job_table(project_id), hide_index=True, key="pr_jobs")
    st.subheader("Audit trail")
    st.dataframe(audit_table(project_id), hide_index=True, key="pr_audit")


render(current_project()[0])
