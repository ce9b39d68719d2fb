"""Real instrumentation libraries → real OTel SDK and OTLP/HTTP exporters → the collector.

Each case runs ``tests.collector.instrumented_app`` in its own process (every library patches
``openai`` globally), which drives the real ``openai`` client against a loopback provider stub:
one plain chat completion (12 prompt tokens of which 8 cached, 3 completion tokens of which 1
reasoning) and one streamed with usage (9 / 4). The collector runs under uvicorn on a free
loopback port; the assertions read the normalised rows.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from core.db import normalise_url
from core.models import PendingLog, Span
from tests.processes import ROOT, collector_process, service_env

PER_MTOK = Decimal("0.000001")
#: gpt-4o-mini list prices per million tokens: input, cached input, output.
INPUT, CACHED, OUTPUT = Decimal("0.15"), Decimal("0.075"), Decimal("0.60")
LATEST = {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"}


@dataclass(frozen=True)
class Case:
    library: str
    module: str
    env: dict[str, str] = field(default_factory=dict)
    #: Whether the library reports OpenAI's cached and reasoning token details.
    details: bool = False
    #: Whether content reaches us as log records rather than on the span.
    via_logs: bool = False


CASES = {
    "openai-v2 default (content as log records)": Case(
        "openai-v2", "opentelemetry.instrumentation.openai_v2",
        {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, via_logs=True,
    ),
    "openai-v2 latest, content on spans": Case(
        "openai-v2", "opentelemetry.instrumentation.openai_v2",
        {**LATEST, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    ),
    "openai-v2 latest, content as a details event": Case(
        "openai-v2", "opentelemetry.instrumentation.openai_v2",
        {**LATEST, "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"},
        via_logs=True,
    ),
    "openinference": Case("openinference", "openinference.instrumentation.openai", details=True),
    "openllmetry": Case("openllmetry", "opentelemetry.instrumentation.openai", details=True),
}  # fmt: skip


def _run_app(case: Case, database_url: str, api_key: str) -> None:
    with collector_process(database_url) as base:
        env = service_env(database_url, TT_COLLECTOR=base, TT_API_KEY=api_key, **case.env)
        done = subprocess.run(
            [sys.executable, "-m", "tests.collector.instrumented_app", case.library],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]


def _rows(database_url: str) -> tuple[list[Span], int]:
    engine = create_engine(normalise_url(database_url), poolclass=pool.NullPool)
    try:
        with Session(engine) as session:
            spans = list(session.scalars(select(Span).order_by(Span.start_time)))
            pending = len(session.scalars(select(PendingLog.span_id)).all())
    finally:
        engine.dispose()
    return spans, pending


def _assert_call(span: Span, case: Case, streamed: bool) -> None:
    prompt, completion = (9, 4) if streamed else (12, 3)
    cached = 8 if case.details and not streamed else None
    assert (span.kind, span.provider, span.operation) == ("llm", "openai", "chat")
    assert (span.request_model, span.response_model) == ("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
    assert (span.input_tokens, span.output_tokens) == (prompt, completion)
    assert span.total_tokens == prompt + completion
    assert span.cache_read_tokens == cached
    assert span.reasoning_tokens == (1 if cached else None)
    assert span.input_text == "Be brief.\nSay hello"
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.output_text == ("Hello, world!" if streamed else "Hello there")
    assert span.output[0]["role"] == "assistant"
    assert span.finish_reasons == ["stop"]
    billed = (prompt - (cached or 0)) * INPUT + (cached or 0) * CACHED + completion * OUTPUT
    assert (span.cost, span.cost_source) == (billed * PER_MTOK, "computed")
    from_logs = set(span.details.get("content_from_logs", []))
    assert ({"input", "output"} <= from_logs) is case.via_logs


@pytest.mark.e2e
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_library_spans_are_normalised(case: Case, database_url: str, api_key: str) -> None:
    if importlib.util.find_spec(case.module) is None:
        pytest.skip(f"{case.module} is not installed (pip install -e '.[instrumentation]')")
    _run_app(case, database_url, api_key)
    spans, pending = _rows(database_url)
    assert len(spans) == 2, [s.name for s in spans]
    _assert_call(spans[0], case, streamed=False)
    _assert_call(spans[1], case, streamed=True)
    assert pending == 0
