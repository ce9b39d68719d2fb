"""``POST /v1/logs``: GenAI content log records joined to their spans, whichever comes first."""

from __future__ import annotations

import json
import threading
from typing import Any

from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import otlp
from collector.ingest import ingest_export
from collector.logs import ingest_logs
from collector.metrics import CollectorMetrics
from core.db import make_engine, make_session_factory
from core.models import PendingLog, Span
from core.settings import Settings
from tests.collector.conftest import (
    JSON,
    PROTOBUF,
    T0_NS,
    any_value,
    export_request,
    key_values,
    llm_attributes,
    make_span,
)

TRACE, SPAN = "a" * 32, "1" * 16


def log_record(
    event: str,
    body: Any = None,
    attributes: dict[str, Any] | None = None,
    trace_id: str = TRACE,
    span_id: str = SPAN,
    offset_ns: int = 0,
    name_in_attribute: bool = False,
) -> LogRecord:
    attrs = {"gen_ai.system": "openai", **(attributes or {})}
    if name_in_attribute:
        attrs["event.name"] = event
    record = LogRecord(
        time_unix_nano=T0_NS + offset_ns,
        trace_id=bytes.fromhex(trace_id) if trace_id else b"",
        span_id=bytes.fromhex(span_id) if span_id else b"",
        event_name="" if name_in_attribute else event,
        attributes=key_values(attrs),
    )
    if body is not None:
        record.body.CopyFrom(any_value(body))
    return record


def logs_request(*records: LogRecord) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=list(records))])]
    )


def conversation(trace_id: str = TRACE, span_id: str = SPAN) -> ExportLogsServiceRequest:
    """What opentelemetry-instrumentation-openai-v2 sends for one chat call (default mode)."""
    ids = {"trace_id": trace_id, "span_id": span_id}
    return logs_request(
        log_record("gen_ai.system.message", {"content": "Be brief."}, **ids),
        log_record("gen_ai.user.message", {"content": "Say hello"}, offset_ns=1, **ids),
        log_record("gen_ai.choice", {"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "Hello!"}},
                   offset_ns=2, **ids),
    )  # fmt: skip


def post_logs(client: TestClient, request: ExportLogsServiceRequest) -> ExportLogsServiceResponse:
    response = client.post("/v1/logs", content=request.SerializeToString(), headers=PROTOBUF)
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/x-protobuf"
    return ExportLogsServiceResponse.FromString(response.content)


def post_span(client: TestClient, **attributes: Any) -> None:
    span = make_span(SPAN, TRACE, attributes=llm_attributes(**attributes))
    body = export_request(span).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200


def stored(factory: sessionmaker[Session], span_id: str = SPAN) -> Span:
    with factory() as session:
        return session.scalars(select(Span).where(Span.span_id == span_id)).one()


def pending_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(PendingLog)) or 0


def assert_conversation(span: Span) -> None:
    assert [m["role"] for m in span.input] == ["system", "user"]
    assert span.input[1]["parts"] == [{"type": "text", "content": "Say hello"}]
    assert span.output == [{"role": "assistant", "finish_reason": "stop",
                            "parts": [{"type": "text", "content": "Hello!"}]}]  # fmt: skip
    assert (span.input_text, span.output_text) == ("Be brief.\nSay hello", "Hello!")
    assert span.finish_reasons == ["stop"]


def test_logs_after_their_span_fill_its_content(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    post_span(client)
    assert stored(session_factory).input is None
    assert post_logs(client, conversation()) == ExportLogsServiceResponse()
    assert_conversation(stored(session_factory))
    assert pending_count(session_factory) == 0


def test_logs_before_their_span_wait_and_are_applied_when_it_arrives(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    post_logs(client, conversation())
    assert pending_count(session_factory) == 1
    post_span(client)
    assert_conversation(stored(session_factory))
    assert pending_count(session_factory) == 0


def test_resent_logs_do_not_duplicate_messages_either_way(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    post_logs(client, conversation())
    post_logs(client, conversation())
    post_span(client)
    post_logs(client, conversation())
    span = stored(session_factory)
    assert_conversation(span)
    assert len(span.details["log_records"]) == 3


def test_records_split_over_two_requests_keep_conversation_order(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    records = list(conversation().resource_logs[0].scope_logs[0].log_records)
    post_logs(client, logs_request(records[2], records[1]))
    post_span(client)
    post_logs(client, logs_request(records[0]))
    assert_conversation(stored(session_factory))


def test_span_content_is_not_replaced_by_log_content(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    own = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "from span"}]}])
    post_span(client, **{"gen_ai.input.messages": own})
    post_logs(client, conversation())
    span = stored(session_factory)
    assert span.input_text == "from span"
    assert span.output_text == "Hello!"  # the span had no output: the log fills it


def test_event_name_attribute_and_json_encoding_are_accepted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    post_span(client)
    record = {
        "timeUnixNano": str(T0_NS), "traceId": TRACE, "spanId": SPAN,
        "attributes": [{"key": "event.name", "value": {"stringValue": "gen_ai.user.message"}}],
        "body": {"kvlistValue": {"values": [{"key": "content",
                                             "value": {"stringValue": "hi there"}}]}},
    }  # fmt: skip
    body = json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]})
    response = client.post("/v1/logs", content=body, headers=JSON)
    assert (response.status_code, response.json()) == (200, {})
    assert stored(session_factory).input_text == "hi there"


def test_operation_details_event_carries_structured_content(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    details = {
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.input.messages": [{"role": "user",
                                   "parts": [{"type": "text", "content": "Say hello"}]}],
        "gen_ai.output.messages": [{"role": "assistant", "finish_reason": "stop",
                                    "parts": [{"type": "text", "content": "Hello!"}]}],
    }  # fmt: skip
    post_logs(client, logs_request(
        log_record("gen_ai.client.inference.operation.details", attributes=details)
    ))  # fmt: skip
    post_span(client)
    assert_conversation(stored(session_factory))


def test_tool_message_and_tool_call_records(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip
    post_span(client)
    post_logs(client, logs_request(
        log_record("gen_ai.assistant.message", {"tool_calls": [call]}),
        log_record("gen_ai.tool.message", {"content": "sunny", "id": "call_1"}, offset_ns=1),
    ))  # fmt: skip
    span = stored(session_factory)
    assert span.input[0]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}}
    ]
    assert span.input[1] == {
        "role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                   "response": "sunny"}],
    }  # fmt: skip


def test_records_without_content_still_give_finish_reasons(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """Without content capture openai-v2 still sends the events, with bodies minus content."""
    post_span(client)
    post_logs(client, logs_request(
        log_record("gen_ai.user.message"),
        log_record("gen_ai.choice", {"index": 0, "finish_reason": "length",
                                     "message": {"role": "assistant"}}),
    ))  # fmt: skip
    span = stored(session_factory)
    assert (span.input, span.output, span.finish_reasons) == (None, None, ["length"])


def test_records_without_ids_are_rejected_and_other_logs_ignored(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    response = post_logs(client, logs_request(
        log_record("gen_ai.user.message", {"content": "orphan"}, trace_id="", span_id=""),
        log_record("app.started", "hello"),
    ))  # fmt: skip
    assert response.partial_success.rejected_log_records == 1
    assert "trace and span id" in response.partial_success.error_message
    assert pending_count(session_factory) == 0


def test_log_content_is_redacted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    post_span(client)
    secret = "mail bob@example.com with key sk-abcdefghijklmnopqrstuv"
    post_logs(client, logs_request(log_record("gen_ai.user.message", {"content": secret})))
    span = stored(session_factory)
    assert span.input_text == "mail [REDACTED:email] with key [REDACTED:api_key]"
    assert "bob@example.com" not in json.dumps(span.details)


def test_logs_need_an_ingest_key_and_a_known_content_type(client: TestClient) -> None:
    body = conversation().SerializeToString()
    anonymous = client.post("/v1/logs", content=body, headers={**PROTOBUF, "Authorization": ""})
    assert anonymous.status_code == 401
    text = client.post("/v1/logs", content=body, headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    bad = client.post("/v1/logs", content=b"\xff\x00garbage", headers=PROTOBUF)
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/x-protobuf"


def test_a_log_batch_and_its_span_batch_racing_never_miss_each_other(
    settings: Settings, project: Any
) -> None:
    """The trace lock serialises the two paths: whichever commits second sees the first."""
    metrics = CollectorMetrics()
    pairs = 8
    engine = make_engine(settings, pool_size=2 * pairs)
    session_factory = make_session_factory(engine)
    barrier = threading.Barrier(2 * pairs)
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            barrier.wait(10)
            job()
        except BaseException as exc:  # reported below
            errors.append(exc)

    def send_span(i: int) -> None:
        span = make_span(f"{i + 1:016x}", f"{i + 1:032x}", attributes=llm_attributes())
        ingest_export(session_factory, project.id, export_request(span).SerializeToString(),
                      content_encoding=None, encoding=otlp.Encoding.PROTOBUF,
                      max_decompressed_bytes=1 << 20, metrics=metrics)  # fmt: skip

    def send_logs(i: int) -> None:
        body = conversation(f"{i + 1:032x}", f"{i + 1:016x}").SerializeToString()
        ingest_logs(session_factory, project.id, body, content_encoding=None,
                    encoding=otlp.Encoding.PROTOBUF, max_decompressed_bytes=1 << 20,
                    redact=True)  # fmt: skip

    threads = [threading.Thread(target=run, args=(lambda i=i, f=f: f(i),))
               for i in range(pairs) for f in (send_span, send_logs)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    for i in range(pairs):
        assert_conversation(stored(session_factory, f"{i + 1:016x}"))
    assert pending_count(session_factory) == 0
    engine.dispose()
