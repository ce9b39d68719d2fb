"""The Trace detail page: header metrics, a timeline, the span tree, LLM calls and scores."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from core.errors import InvalidInputError
from core.queries import ScoreView, TraceDetail
from dashboard import access, data, figures
from dashboard.span_view import cost_source_label, render_llm_span, render_other_span
from dashboard.transcript import format_cost, format_ms, format_tokens, span_tree, tree_text

LIST_PAGE = "views/traces.py"
TRACE_ID = re.compile(r"[0-9a-f]{32}")
#: Spans whose content is drawn in full; a bigger trace shows the first ones (tree order).
MAX_DETAILED_SPANS = 200


def render_header(detail: TraceDetail) -> None:
    s = detail.summary
    st.text(s.name or "(unnamed trace)")
    st.text(f"trace {s.trace_id}   started {s.start_time:%Y-%m-%d %H:%M:%S.%f} UTC")
    facts = [("service", s.service), ("environment", s.environment), ("user", s.user_id),
             ("session", s.session_id), ("tags", ", ".join(s.tags))]  # fmt: skip
    known = [f"{k}: {v}" for k, v in facts if v]
    if known:
        st.text("   ".join(known))
    cols = st.columns([1, 1, 1, 1, 1.6, 1])  # per-call costs need room for their digits
    cols[0].metric("Duration", format_ms(s.duration_ms))
    cols[1].metric("Spans", f"{s.span_count:,}")
    cols[2].metric("LLM calls", f"{s.llm_calls:,}")
    cols[3].metric("Tokens", format_tokens(s.total_tokens))
    cols[4].metric("Cost", format_cost(s.cost))
    cols[5].metric("Errors", f"{s.error_count:,}")
    sources = ", ".join(cost_source_label(c) for c in detail.cost_sources) or "no LLM calls"
    unpriced = f"   {s.unpriced_calls} call(s) without a price" if s.unpriced_calls else ""
    st.text(f"cost source: {sources}{unpriced}")


def scores_table(scores: list[ScoreView]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"name": c.name, "value": c.value, "label": c.label or "", "source": c.source,
             "comment": c.comment or "", "span": c.span_id or "", "scorer version":
             c.scorer_version, "at": c.created_at.replace(tzinfo=None)}
            for c in scores
        ],
        columns=["name", "value", "label", "source", "comment", "span", "scorer version", "at"],
    )  # fmt: skip


def render_spans(detail: TraceDetail) -> None:
    ordered = [span for span, _ in span_tree(detail.spans)]
    shown = ordered[:MAX_DETAILED_SPANS]
    if len(ordered) > len(shown):
        st.warning(f"Showing the first {len(shown)} of {len(ordered)} spans.")
    llm_index = 0
    for index, span in enumerate(shown, start=1):
        if span.kind == "llm":
            llm_index += 1
            with st.expander(f"LLM call {llm_index} (span {index})", expanded=llm_index == 1):
                render_llm_span(span)
        else:
            with st.expander(f"Span {index}: {_kind(span.kind)}"):
                render_other_span(span)


def _kind(kind: str) -> str:
    return kind if kind in figures.KIND_COLOURS else "other"


def annotation_form(project_id: int, detail: TraceDetail) -> None:
    """A reviewer's score on the trace or one of its LLM calls, stored as a human score."""
    targets = {"": "the whole trace"} | {
        s.span_id: f"span {s.span_id} · {s.name}"[:120] for s in detail.spans if s.kind == "llm"
    }
    with st.form("annotate", clear_on_submit=True):
        st.caption("Add a human score")
        name = st.text_input("Score name", value="human-review", max_chars=200)
        value = st.slider("Value", 0.0, 1.0, 1.0, 0.05)
        label = st.text_input("Label (optional)", max_chars=200)
        comment = st.text_area("Comment (optional)", max_chars=10_000)
        span_id = st.selectbox("On", list(targets), format_func=targets.__getitem__)
        submitted = st.form_submit_button("Save score")
    if submitted:
        try:
            data.add_score(
                project_id, detail.summary.trace_id, name=name, value=value,
                label=label or None, comment=comment or None, span_id=span_id or None,
            )  # fmt: skip
        except InvalidInputError as exc:
            st.error("The score was not saved.")
            st.text(str(exc))
            return
        st.rerun()


def render_trace(project_id: int, detail: TraceDetail) -> None:
    st.title("Trace detail")
    render_header(detail)
    if not detail.content:
        st.caption("Prompts, completions and raw attributes are not shown to your role.")
    if not detail.complete:
        st.caption(
            f"This trace has {detail.summary.span_count:,} spans; the first "
            f"{len(detail.spans):,} are loaded (the API pages through all of them)."
        )
    timeline, tree, spans, scores = st.tabs(["Timeline", "Span tree", "Spans", "Scores"])
    with timeline:
        st.plotly_chart(figures.waterfall(detail.spans), key="trace_waterfall")
    with tree:
        st.code(tree_text(detail.spans), language=None)
    with spans:
        render_spans(detail)
    with scores:
        if detail.scores:
            st.dataframe(scores_table(detail.scores), hide_index=True)
        else:
            st.info("No scores for this trace yet.")
        if access.may_annotate():
            annotation_form(project_id, detail)


def render(project_id: int, project_name: str) -> None:
    trace_id = str(st.query_params.get("trace_id", "")).strip().lower()
    if not TRACE_ID.fullmatch(trace_id):
        st.title("Trace detail")
        st.info("Choose a trace on the Traces page.")
        st.page_link(LIST_PAGE, label="Back to traces", icon=":material/arrow_back:")
        return
    st.query_params["trace_id"] = trace_id
    detail = data.trace(project_id, trace_id, content=access.may_read_content())
    if detail is None:
        st.title("Trace detail")
        st.warning("This trace is not in the selected project.")
        st.text(f"trace {trace_id}, project {project_name}")
        st.page_link(LIST_PAGE, label="Back to traces", icon=":material/arrow_back:")
        return
    st.page_link(LIST_PAGE, label="Back to traces", icon=":material/arrow_back:")
    render_trace(project_id, detail)
