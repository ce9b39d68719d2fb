"""A tiny app instrumented by one real GenAI instrumentation library, run in its own process.

``python -m tests.collector.instrumented_app LIBRARY`` drives the real ``openai`` client against
a loopback provider stub (one plain and one streamed chat completion), exports through the real
OTel SDK and OTLP/HTTP exporters to ``TT_COLLECTOR`` with ``TT_API_KEY``, flushes and exits.
Each library patches ``openai`` globally, so each gets a process of its own. Modes of a library
are chosen by its own environment variables, set by the test.
"""

from __future__ import annotations

import os
import sys

import openai
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tests.sdk.providers import ProviderStub

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello"},
]


def instrument(
    library: str, tracer_provider: TracerProvider, logger_provider: LoggerProvider
) -> None:
    if library == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        V2().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    elif library == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OI

        OI().instrument(tracer_provider=tracer_provider)
    elif library == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as TL

        TL().instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    else:
        raise SystemExit(f"unknown library {library!r}")


def main(library: str) -> None:
    collector, key = os.environ["TT_COLLECTOR"], os.environ["TT_API_KEY"]
    headers = {"Authorization": f"Bearer {key}"}
    resource = Resource.create({"service.name": f"app-{library}"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{collector}/v1/traces", headers=headers))
    )
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{collector}/v1/logs", headers=headers))
    )
    instrument(library, tracer_provider, logger_provider)
    stub = ProviderStub().start()
    try:
        client = openai.OpenAI(base_url=f"{stub.url}/v1", api_key="sk-test-not-real", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
        for _ in stream:
            pass
    finally:
        stub.stop()
        tracer_provider.shutdown()
        logger_provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
