"""Realistic traffic for the scoring benchmark and the worker tests, as OTLP spans.

Each trace is a root chain span and an LLM call; 35 % are RAG traces with a retriever span
carrying documents. Outputs vary the way production outputs do: mostly good answers in
varied words, plus truncations, refusals, JSON-mode and tool-call outputs (some invalid),
leaked e-mails, degenerate repetition, and answers in another language.
"""

from __future__ import annotations

import json
import random
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from cli import demo_content as text
from collector.normalise import normalise_batch
from collector.spans import read_batch
from core.ingest import SpanRecord

FILLER = ("account", "workspace", "invoice", "report", "dashboard", "export", "region", "plan",
          "team", "seat", "policy", "webhook", "integration", "audit", "key", "token", "limit",
          "retention", "backup", "schedule", "quota", "billing", "migration", "endpoint",
          "latency", "error", "release", "version", "feature", "setting", "permission")  # fmt: skip


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(AnyValue(string_value=str(v)) for v in value)
        return KeyValue(key=key, value=any_value)
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _msgs(role: str, content: str, finish: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role, "parts": [{"type": "text", "content": content}]}
    if finish:
        msg["finish_reason"] = finish
    return msg


def _sentence(rng: random.Random) -> str:
    words = rng.sample(FILLER, 6)
    return f"The {words[0]} {words[1]} keeps the {words[2]} and {words[3]} of each {words[4]}."


def _answer(rng: random.Random, question: str, base: str) -> tuple[str, str, dict[str, Any]]:
    """(answer, finish reason, extra attributes) with production-like failure modes."""
    roll = rng.random()
    extra: dict[str, Any] = {}
    if roll < 0.03:
        return base[: len(base) // 2], "length", extra
    if roll < 0.07:
        return "I'm sorry, but I can't help with that request.", "stop", extra
    if roll < 0.12:
        extra["gen_ai.output.type"] = "json"
        label = rng.choice(["billing", "bug_report", "how_to"])
        body = json.dumps({"intent": label, "confidence": round(rng.random(), 2)})
        return (body if rng.random() < 0.8 else "```json\n" + body + "\n```"), "stop", extra
    if roll < 0.13:
        return base + " Write to ops-team@example.com for details.", "stop", extra
    if roll < 0.14:
        return " ".join([base.split(".")[0] + "."] * 8), "stop", extra
    if roll < 0.16:
        return "Die Audit-Logs werden auf dem Business-Tarif 365 Tage lang aufbewahrt.", "stop", {}
    return base + " " + _sentence(rng), "stop", extra


def _trace(rng: random.Random, index: int, start_ns: int) -> list[Span]:
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    ids = [rng.getrandbits(64).to_bytes(8, "big") for _ in range(3)]
    product = rng.choice(text.PRODUCTS)
    rag = rng.random() < 0.35
    spans: list[Span] = []

    def span(i: int, name: str, parent: bytes | None, offset_ms: int, length_ms: int,
             attrs: dict[str, Any]) -> None:  # fmt: skip
        s = Span(trace_id=trace_id, span_id=ids[i], name=name,
                 start_time_unix_nano=start_ns + offset_ms * 1_000_000,
                 end_time_unix_nano=start_ns + (offset_ms + length_ms) * 1_000_000,
                 kind=Span.SPAN_KIND_INTERNAL)  # fmt: skip
        if parent:
            s.parent_span_id = parent
        s.attributes.extend(_kv(k, v) for k, v in attrs.items())
        spans.append(s)

    common = {"tokentrail.feature": "rag-qa" if rag else "support", "user.id": f"u{index % 40}"}
    if rag:
        question_t, topic = rng.choice(text.QUESTIONS)
        question = question_t.format(product=product)
        docs: list[dict[str, Any]] = [
            {"id": d, "score": 0.9, "content": body} for d, body in text.DOCUMENTS[topic]
        ]
        span(1, "vector_search", ids[0], 2, 40, {**common, "tokentrail.span.kind": "retriever",
             "input.value": question, "gen_ai.retrieval.documents": json.dumps(docs)})  # fmt: skip
        base = text.ANSWERS[topic]
        system = "Answer only from the context.\n" + "\n".join(str(d["content"]) for d in docs)
    else:
        i = rng.randrange(len(text.TICKETS))
        question = text.TICKETS[i].format(product=product) + " " + _sentence(rng)
        base = rng.choice(text.REPLIES).format(summary=text.SUMMARIES[i])
        system = "Draft a warm, precise reply to the customer."
    answer, finish, extra = _answer(rng, question, base)
    messages = [_msgs("system", system), _msgs("user", question)]
    llm = {**common, "tokentrail.span.kind": "llm", "gen_ai.operation.name": "chat",
           "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
           "gen_ai.usage.input_tokens": 300, "gen_ai.usage.output_tokens": 60,
           "gen_ai.input.messages": json.dumps(messages),
           "gen_ai.output.messages": json.dumps([_msgs("assistant", answer, finish)]),
           "gen_ai.response.finish_reasons": [finish], **extra}  # fmt: skip
    span(2, "chat gpt-4o-mini", ids[0], 50, 900, llm)
    span(0, "answer_question" if rag else "draft_reply", None, 0, 1000,
         {**common, "tokentrail.span.kind": "chain", "input.value": question,
          "output.value": answer})  # fmt: skip
    return spans


def make_request(first: int, traces: int, seed: int, start_ns: int) -> ExportTraceServiceRequest:
    """``traces`` traces (numbered from ``first``) as one OTLP export request."""
    rng = random.Random(seed * 1_000_003 + first)
    scope = ScopeSpans()
    scope.scope.name = "bench.scoring"
    for i in range(first, first + traces):
        scope.spans.extend(_trace(rng, i, start_ns + i * 1_000_000))
    resource = ResourceSpans(scope_spans=[scope])
    resource.resource.attributes.append(_kv("service.name", "scoring-bench"))
    return ExportTraceServiceRequest(resource_spans=[resource])


def make_records(
    traces: int, seed: int = 7, start_ns: int = 1_790_000_000_000_000_000
) -> list[SpanRecord]:
    """The same traffic normalised by the collector's own code, ready for ``store_spans``."""
    records, failed = normalise_batch(read_batch(make_request(0, traces, seed, start_ns)).spans)
    assert not failed, failed
    return records
