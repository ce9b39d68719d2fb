"""Workload for ``bench/ingest.py``: realistic LLM spans as OTLP protobuf, and a sender that
measures what the server acknowledged and how long each request took."""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-0"),
          ("gcp.gemini", "gemini-2.5-pro")]  # fmt: skip
WORDS = ["the", "customer", "asked", "about", "invoice", "refund", "policy", "order",
         "shipping", "delay", "account", "subscription", "plan", "upgrade", "cancel", "region",
         "latency", "model", "answer", "context", "document", "retrieval", "summary", "please",
         "explain", "why", "how", "when"]  # fmt: skip
SPANS_PER_TRACE = 4  # a root agent span and three LLM calls


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(AnyValue(string_value=str(v)) for v in value)
        return KeyValue(key=key, value=any_value)
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _text(rng: random.Random, size: int) -> str:
    words, length = [], 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def _llm_attributes(rng: random.Random, user: str, session: str) -> list[KeyValue]:
    provider, model = rng.choice(MODELS)
    prompt = _text(rng, rng.randint(1000, 2000))
    messages = [{"role": "system", "parts": [{"type": "text", "content": "Be concise."}]},
                {"role": "user", "parts": [{"type": "text", "content": prompt}]}]  # fmt: skip
    answer = [{"role": "assistant", "finish_reason": "stop",
               "parts": [{"type": "text", "content": _text(rng, 300)}]}]  # fmt: skip
    input_tokens = len(prompt) // 4
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
        "gen_ai.request.model": model, "gen_ai.response.model": model,
        "gen_ai.response.id": f"chatcmpl-{rng.getrandbits(64):x}",
        "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": 80,
        "gen_ai.usage.cache_read.input_tokens": input_tokens // 2,
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.request.temperature": "0.2",
        "gen_ai.input.messages": json.dumps(messages),
        "gen_ai.output.messages": json.dumps(answer),
        "server.address": "api.example.com", "user.id": user, "session.id": session,
    }  # fmt: skip
    return [_kv(k, v) for k, v in attributes.items()]


def _trace(rng: random.Random, start_ns: int) -> list[Span]:
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    root_id = rng.getrandbits(64).to_bytes(8, "big")
    user, session = f"user-{rng.randint(1, 500)}", f"session-{rng.randint(1, 2000)}"
    root = Span(trace_id=trace_id, span_id=root_id, name="answer_question",
                kind=Span.SPAN_KIND_INTERNAL, start_time_unix_nano=start_ns,
                end_time_unix_nano=start_ns + 3_000_000_000,
                attributes=[_kv("gen_ai.operation.name", "invoke_agent"),
                            _kv("gen_ai.agent.name", "support"), _kv("user.id", user)])  # fmt: skip
    spans = [root]
    for i in range(SPANS_PER_TRACE - 1):
        begin = start_ns + i * 900_000_000
        spans.append(Span(
            trace_id=trace_id, span_id=rng.getrandbits(64).to_bytes(8, "big"),
            parent_span_id=root_id, name="chat", kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=begin, end_time_unix_nano=begin + 800_000_000,
            attributes=_llm_attributes(rng, user, session),
        ))  # fmt: skip
    return spans


def make_bodies(batch_size: int, batches: int, seed: int) -> list[bytes]:
    """``batches`` serialised export requests of ``batch_size`` spans each, all ids unique."""
    rng = random.Random(seed)
    start_ns = time.time_ns() - 3_600_000_000_000
    bodies = []
    for _ in range(batches):
        spans: list[Span] = []
        while len(spans) < batch_size:
            spans.extend(_trace(rng, start_ns))
            start_ns += 50_000_000
        request = ExportTraceServiceRequest()
        resource_spans = ResourceSpans(scope_spans=[ScopeSpans(spans=spans[:batch_size])])
        resource_spans.resource.attributes.extend(
            [_kv("service.name", "support-bot"), _kv("deployment.environment", "bench")]
        )
        request.resource_spans.append(resource_spans)
        bodies.append(request.SerializeToString())
    return bodies


@dataclass
class LoadResult:
    """What one load run saw from the client side."""

    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    acknowledged_spans: int = 0
    failures: dict[int, int] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def send_all(
    url: str, headers: dict[str, str], bodies: list[bytes], batch_size: int, concurrency: int
) -> LoadResult:
    """Send every body once, ``concurrency`` requests at a time; count 200s as acknowledged."""
    result, lock, queue = LoadResult(), threading.Lock(), list(reversed(bodies))
    sent_headers = {"Content-Type": "application/x-protobuf", **headers}

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                began = time.perf_counter()
                status = client.post(url, content=body, headers=sent_headers).status_code
                took = time.perf_counter() - began
                with lock:
                    result.latencies_s.append(took)
                    if status == 200:
                        result.acknowledged_spans += batch_size
                    else:
                        result.failures[status] = result.failures.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed_s = time.perf_counter() - began
    return result
