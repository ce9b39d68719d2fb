"""Rendering one span's content: chat transcripts, JSON, documents, usage and cost.

Trace content is data, never markup: every string a span carried goes through ``st.text``,
``st.code`` or a dataframe cell; labels, titles and captions hold only our own words.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.models import CostSource
from core.queries import SpanView
from dashboard.transcript import (
    Message,
    as_json,
    chat_role,
    clip,
    format_cost,
    format_ms,
    format_tokens,
    messages_from,
)

_AVATARS = {"system": ":material/settings:", "tool": ":material/build:",
            "other": ":material/help:"}  # fmt: skip
_COST_SOURCES = frozenset(c.value for c in CostSource)


def cost_source_label(source: str) -> str:
    """A span's ``cost_source`` if it is one we know, else ``unknown`` (it is stored data)."""
    return source if source in _COST_SOURCES else CostSource.UNKNOWN.value


def render_messages(messages: list[Message]) -> None:
    for message in messages:
        role = chat_role(message.role)
        with st.chat_message(role, avatar=_AVATARS.get(role)):
            if role != message.role.lower():
                st.text(f"role: {message.role}")
            for part in message.parts:
                if part.kind == "text":
                    st.text(part.body)
                else:
                    st.code(part.body, language=part.language, wrap_lines=True)


def render_payload(title: str, value: Any, *, chat: bool) -> None:
    """``value`` as a chat transcript when it is one (and ``chat``), else as JSON."""
    if value is None:
        return
    st.caption(title)
    messages = messages_from(value) if chat else None
    if messages is not None:
        render_messages(messages)
    elif isinstance(value, str):
        st.text(clip(value))
    else:
        st.code(as_json(value), language="json", wrap_lines=True)


def usage_table(span: SpanView) -> pd.DataFrame:
    buckets = {
        "input": span.input_tokens, "cache read": span.cache_read_tokens,
        "cache write": span.cache_write_tokens, "output": span.output_tokens,
        "reasoning": span.reasoning_tokens, "total": span.total_tokens,
    }  # fmt: skip
    return pd.DataFrame({k: [format_tokens(v)] for k, v in buckets.items()})


def render_llm_facts(span: SpanView) -> None:
    st.text(span.name)
    st.text(f"provider: {span.provider or '–'}   model: {span.model or '–'}"
            + (f"   (requested {span.request_model})"
               if span.request_model and span.request_model != span.model else ""))  # fmt: skip
    st.dataframe(usage_table(span), hide_index=True)
    usage = span.usage_source or "unknown"
    st.text(f"cost: {format_cost(span.cost)} ({cost_source_label(span.cost_source)})   "
            f"usage: {usage}   duration: {format_ms(span.duration_ms)}")  # fmt: skip
    if span.price_ref:
        st.text(f"price: {span.price_ref}")
    if span.finish_reasons:
        st.text("finish reasons: " + ", ".join(span.finish_reasons))


def render_error(span: SpanView) -> None:
    if span.status != "error":
        return
    st.error("This span ended with an error.")
    detail = ": ".join(x for x in (span.error_type, span.error_message) if x)
    if detail:
        st.code(clip(detail), language=None, wrap_lines=True)


def documents_table(documents: Any) -> pd.DataFrame | None:
    """Retrieved documents (``[{"id", "score", "content"}]``) as rows, or None if not a list."""
    if not isinstance(documents, list):
        return None
    rows = []
    for doc in documents:
        doc = doc if isinstance(doc, dict) else {"content": doc}
        content = doc.get("content")
        rows.append({
            "id": str(doc.get("id", "")),
            "score": doc.get("score") if isinstance(doc.get("score"), int | float) else None,
            "content": clip(content if isinstance(content, str) else as_json(content), 2_000),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["id", "score", "content"])


def render_documents(span: SpanView) -> None:
    if span.documents is None:
        return
    st.caption("Retrieved documents")
    table = documents_table(span.documents)
    if table is None:
        st.code(as_json(span.documents), language="json", wrap_lines=True)
    else:
        st.dataframe(table, hide_index=True)


def render_llm_span(span: SpanView) -> None:
    render_llm_facts(span)
    render_error(span)
    render_payload("Input", span.input, chat=True)
    render_payload("Output", span.output, chat=True)


def render_other_span(span: SpanView) -> None:
    st.text(f"{span.name}   [{span.kind}]   {format_ms(span.duration_ms)}")
    render_error(span)
    render_documents(span)
    render_payload("Input", span.input, chat=False)
    render_payload("Output", span.output, chat=False)
    if span.attributes:
        st.caption("Attributes")
        st.code(as_json(span.attributes), language="json", wrap_lines=True)
