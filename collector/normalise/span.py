"""One raw span → one :class:`SpanRecord`: classification, usage, cost, content, attribution."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from collector.limits import MAX_NAME_CHARS, MAX_TEXT_BYTES
from collector.normalise import attribution, classify, usage
from collector.normalise.attrs import Attrs
from collector.normalise.content import Content, content_of
from collector.normalise.evaluations import evaluations_of
from collector.normalise.messages import message_text
from collector.spans import RawSpan
from collector.values import bound_json, clean_text, to_text
from core.ingest import SpanRecord
from core.models import CostSource, SpanKind, SpanStatus, UsageSource
from core.pricing import TokenUsage, cost_for
from core.timeutil import from_unix_nanos

logger = logging.getLogger(__name__)

PRICED_KINDS = frozenset({SpanKind.LLM, SpanKind.EMBEDDING})


def normalise_batch(spans: Sequence[RawSpan]) -> tuple[list[SpanRecord], Counter[str]]:
    """Normalise every span; a span that cannot be normalised is rejected, never the batch."""
    parents = {s.parent_span_id for s in spans if s.parent_span_id}
    records: list[SpanRecord] = []
    rejected: Counter[str] = Counter()
    for raw in spans:
        try:
            records.append(normalise_span(raw, has_children=raw.span_id in parents))
        except Exception:  # boundary: one odd span must not fail a whole batch
            logger.exception("could not normalise span %s/%s", raw.trace_id, raw.span_id)
            rejected["span could not be normalised"] += 1
    return records, rejected


def normalise_span(raw: RawSpan, has_children: bool = False) -> SpanRecord:
    attrs = Attrs(raw.attributes, raw.resource)
    kind = classify.classify_kind(attrs, has_children)
    request_model, response_model = classify.models_of(attrs, kind)
    content = content_of(attrs, raw.events)
    who = attribution.attribution_of(attrs)
    record = SpanRecord(
        trace_id=raw.trace_id, span_id=raw.span_id, parent_span_id=raw.parent_span_id,
        name=classify.display_name(attrs, kind, raw.name)[:MAX_NAME_CHARS],
        start_time=from_unix_nanos(raw.start_ns), end_time=from_unix_nanos(raw.end_ns),
        kind=kind.value, operation=classify.operation_of(attrs),
        provider=classify.provider_of(attrs, response_model or request_model),
        request_model=request_model, response_model=response_model,
        finish_reasons=content.finish_reasons,
        input=bound_json(content.input), output=bound_json(content.output),
        input_text=_text(content.input_messages, content.input),
        output_text=_text(content.output_messages, content.output) or _documents_text(content),
        documents=bound_json(content.documents),
        session_id=who.session_id, user_id=who.user_id, tags=who.tags, team=who.team,
        feature=who.feature, customer=who.customer, environment=who.environment,
        service=who.service, resource=raw.resource, events=raw.events,
        dropped_counts=raw.dropped or None,
    )  # fmt: skip
    _set_status(record, raw, attrs)
    _set_usage_and_cost(record, attrs, kind)
    record.attributes = raw.stored_attributes()
    record.details = _details(attrs, raw)
    return record


def _text(messages: list[dict[str, Any]] | None, value: Any) -> str | None:
    text = message_text(messages) if messages else to_text(value)
    return clean_text(text, MAX_TEXT_BYTES) if text else None


def _documents_text(content: Content) -> str | None:
    texts = [d["content"] for d in content.documents or [] if isinstance(d.get("content"), str)]
    return clean_text("\n".join(texts), MAX_TEXT_BYTES) if texts else None


def _set_status(record: SpanRecord, raw: RawSpan, attrs: Attrs) -> None:
    exception: dict[str, Any] = next(
        (e["attributes"] for e in raw.events if e["name"] == "exception"), {}
    )
    level = (attrs.text("langfuse.observation.level") or "").upper()
    is_error = raw.status == SpanStatus.ERROR.value or level == "ERROR"
    record.status = SpanStatus.ERROR.value if is_error else raw.status
    record.error_type = attrs.text("error.type") or Attrs(exception).text("exception.type")
    message = (
        raw.status_message
        or Attrs(exception).text("exception.message")
        or attrs.text("langfuse.observation.status_message")
    )
    record.error_message = message if is_error or raw.status_message else None


def _set_usage_and_cost(record: SpanRecord, attrs: Attrs, kind: SpanKind) -> None:
    found = usage.usage_of(attrs)
    record.input_tokens, record.output_tokens = found.input_tokens, found.output_tokens
    record.cache_read_tokens, record.cache_write_tokens = (
        found.cache_read_tokens,
        found.cache_write_tokens,
    )
    record.reasoning_tokens, record.total_tokens = found.reasoning_tokens, found.total_tokens
    estimated = attrs.flag("tokentrail.usage.estimated") is True
    if found.present:
        record.usage_source = (UsageSource.ESTIMATED if estimated else UsageSource.REPORTED).value
    reported = usage.reported_cost(attrs)
    if reported is not None:
        record.cost, record.cost_source = reported[0], CostSource.REPORTED.value
        record.price_ref = f"reported:{reported[1]}"
        return
    if kind not in PRICED_KINDS or not found.present:
        return
    price = cost_for(
        record.provider,
        record.model,
        TokenUsage(
            input_tokens=found.input_tokens or 0,
            output_tokens=found.output_tokens or 0,
            cache_read_tokens=found.cache_read_tokens or 0,
            cache_write_tokens=found.cache_write_tokens or 0,
            reasoning_tokens=found.reasoning_tokens or 0,
        ),
        record.start_time,
    )
    record.cost, record.price_ref = price.cost, price.ref
    if price.cost is None:
        record.cost_source = CostSource.UNKNOWN.value
    else:
        record.cost = price.cost.quantize(usage.COST_QUANTUM)
        record.cost_source = (CostSource.ESTIMATED if estimated else CostSource.COMPUTED).value


def _details(attrs: Attrs, raw: RawSpan) -> dict[str, Any]:
    details = attribution.details_of(attrs)
    framework = classify.framework_of(attrs)
    if framework:
        details["framework"] = framework
    details["scope"] = raw.scope
    details["otel_kind"] = raw.otel_kind
    evaluations = evaluations_of(raw.events, raw.trace_id, raw.span_id)
    if evaluations:
        details["evaluations"] = evaluations
    if raw.links:
        details["links"] = raw.links
    return bound_json(details)  # type: ignore[no-any-return]
