"""OTLP log records carrying GenAI prompts and completions → content records for their spans.

The official OpenAI instrumentation (default mode) sends content as log records
``gen_ai.{system,user,assistant,tool}.message`` and ``gen_ai.choice`` (reference §2.5, gen B);
its latest mode can send one ``gen_ai.client.inference.operation.details`` record (gen C). The
event name is in ``LogRecord.event_name`` or, from older SDKs, an ``event.name`` attribute;
content is in the body (gen B) or the attributes (gen C). Evaluation results
(``gen_ai.evaluation.result``, the event form of what can also arrive as a span event) become
scores of the span they name, whether or not the span has arrived. Other log records are skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from sqlalchemy.orm import Session, sessionmaker

from collector import otlp
from collector.limits import MAX_NAME_CHARS
from collector.normalise import messages as m
from collector.normalise.attrs import Attrs
from collector.normalise.content import content_of
from collector.normalise.evaluations import EVALUATION_EVENT, evaluations_of
from collector.redaction import redact_value
from collector.spans import attributes_of
from collector.values import bound_json, clean_text, from_any_value
from core.pending_logs import SpanKey, attach_log_records
from core.quality import store_evaluation_rows

ROLE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
               "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}  # fmt: skip
CHOICE_EVENT = "gen_ai.choice"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
GENAI_EVENTS = frozenset({*ROLE_EVENTS, CHOICE_EVENT, DETAILS_EVENT})
NO_SPAN = "GenAI content record without a valid trace and span id"
NO_RESULT = "evaluation result without a name, or with neither a finite score nor a label"


@dataclass(slots=True)
class LogBatch:
    """Content records by span; rejections and skips by reason."""

    by_span: dict[SpanKey, list[dict[str, Any]]] = field(default_factory=dict)
    #: Evaluation results: (trace id, span id, ``{name, value?, label?, comment?, client_id}``).
    evaluations: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class LogOutcome:
    accepted: int = 0
    attached: int = 0
    pending: int = 0
    scores: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_count(self) -> int:
        return self.rejected.total()

    def message(self) -> str:
        return otlp.rejection_message(self.rejected, "log record(s)")


def event_name_of(record: LogRecord, attributes: dict[str, Any]) -> str:
    name = record.event_name or attributes.get("event.name")
    return clean_text(name, MAX_NAME_CHARS) if isinstance(name, str) else ""


def read_log_batch(request: ExportLogsServiceRequest, redact: bool) -> LogBatch:
    """The GenAI content records of ``request``, keyed by (trace id, span id)."""
    batch = LogBatch()
    seq = 0
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attributes = attributes_of(record.attributes)
                name = event_name_of(record, attributes)
                if name not in GENAI_EVENTS and name != EVALUATION_EVENT:
                    batch.skipped["not a GenAI content event"] += 1
                    continue
                if not _has_span(record):
                    batch.rejected[NO_SPAN] += 1
                    continue
                if name == EVALUATION_EVENT:
                    _add_evaluation(batch, record, attributes)
                    continue
                seq += 1
                content = content_record(name, record, attributes, seq, redact)
                key = (record.trace_id.hex(), record.span_id.hex())
                batch.by_span.setdefault(key, []).append(content)
                batch.accepted += 1
    return batch


def _add_evaluation(batch: LogBatch, record: LogRecord, attributes: dict[str, Any]) -> None:
    trace_id, span_id = record.trace_id.hex(), record.span_id.hex()
    event = {"name": EVALUATION_EVENT, "attributes": _fields(record, attributes),
             "time": record.time_unix_nano or record.observed_time_unix_nano}  # fmt: skip
    found = evaluations_of([event], trace_id, span_id)
    if not found:
        batch.rejected[NO_RESULT] += 1
        return
    batch.evaluations.append((trace_id, span_id, found[0]))
    batch.accepted += 1


def _has_span(record: LogRecord) -> bool:
    trace_ok = len(record.trace_id) == 16 and any(record.trace_id)
    return trace_ok and len(record.span_id) == 8 and any(record.span_id)


def _fields(record: LogRecord, attributes: dict[str, Any]) -> dict[str, Any]:
    """A record's attributes overlaid with its body (a map, or a bare content value)."""
    body = from_any_value(record.body) if record.HasField("body") else None
    fields = {k: v for k, v in attributes.items() if k not in ("event.name", "gen_ai.system")}
    if isinstance(body, dict):
        fields.update(body)
    elif body is not None:
        fields["content"] = body
    return fields


def content_record(
    name: str, record: LogRecord, attributes: dict[str, Any], seq: int, redact: bool
) -> dict[str, Any]:
    """One log record as the content record ``core.pending_logs`` folds into a span."""
    fields = _fields(record, attributes)
    time_ns = record.time_unix_nano or record.observed_time_unix_nano
    identity = json.dumps([name, time_ns, fields], sort_keys=True, default=str)
    content: dict[str, Any] = {
        "key": hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:32],
        "event": name,
        "time_ns": time_ns,
        "seq": seq,
        "rank": 1 if name == DETAILS_EVENT else 0,
    }
    if name == DETAILS_EVENT:
        found = content_of(Attrs(fields), [])
        inputs, outputs, reasons = found.input_messages, found.output_messages, found.finish_reasons
    elif name == CHOICE_EVENT:
        index = fields.get("index")
        content["index"] = index if isinstance(index, int) else 0
        outputs = m.to_messages([fields], "assistant")
        inputs, reasons = None, [r for r in (m.finish_reason(fields.get("finish_reason")),) if r]
    else:
        inputs = m.to_messages([{**fields, "role": ROLE_EVENTS[name]}], ROLE_EVENTS[name])
        outputs, reasons = None, None
    _add_messages(content, "input", inputs, redact)
    _add_messages(content, "output", outputs, redact)
    if reasons:
        content["finish_reasons"] = reasons
    return bound_json(content)  # type: ignore[no-any-return]


def _add_messages(
    content: dict[str, Any], slot: str, messages: list[m.Message] | None, redact: bool
) -> None:
    """Messages with something in them (a record sent without content capture has none)."""
    kept = [msg for msg in messages or [] if msg.get("parts")]
    if not kept:
        return
    if redact:
        kept = redact_value(kept)
    content[slot] = kept
    content[f"{slot}_text"] = m.message_text(kept) or None


def ingest_logs(
    factory: sessionmaker[Session],
    project_id: int,
    body: bytes,
    *,
    content_encoding: str | None,
    encoding: otlp.Encoding,
    max_decompressed_bytes: int,
    redact: bool,
) -> LogOutcome:
    """Decompress, decode and attach (or park) content records; return after the commit."""
    payload = otlp.decompress(body, content_encoding, max_decompressed_bytes)
    request = otlp.decode_request(payload, encoding, ExportLogsServiceRequest)
    batch = read_log_batch(request, redact)
    outcome = LogOutcome(accepted=batch.accepted, rejected=batch.rejected)
    if batch.by_span or batch.evaluations:
        with factory.begin() as session:
            if batch.by_span:
                outcome.attached, outcome.pending = attach_log_records(
                    session, project_id, batch.by_span
                )
            outcome.scores = store_evaluation_rows(session, project_id, batch.evaluations)
    return outcome
