"""The OTLP/HTTP contract: encodings, compression, limits, and bad input answered with a 4xx."""

from __future__ import annotations

import gzip
import json
import random
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Span
from core.settings import Settings
from tests.collector.conftest import (
    FIXTURES,
    JSON,
    PROTOBUF,
    T0_NS,
    export_request,
    llm_attributes,
    make_span,
)


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Span)) or 0


def _json_span(**overrides: Any) -> dict[str, Any]:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "kind": 3,
        "startTimeUnixNano": str(T0_NS),
        "endTimeUnixNano": str(T0_NS + 10**9),
        "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}],
    }
    span.update(overrides)
    return span


def _json_body(*spans: dict[str, Any]) -> bytes:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}).encode()


def test_protobuf_success_is_an_empty_protobuf_response(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    body = export_request(make_span(attributes=llm_attributes())).SerializeToString()
    response = client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert response.content == b""
    assert _count(session_factory) == 1


def test_protobuf_round_trip_keeps_ids_times_and_attributes(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    span = make_span("0123456789abcdef", "fedcba9876543210" * 2, parent="1111111111111111",
                     attributes={"k": "v", "n": 7, "f": 1.5, "b": True, "l": ["x", 2],
                                 "m": {"inner": "y"}, "raw": b"\x01\x02"})  # fmt: skip
    client.post("/v1/traces", content=export_request(span).SerializeToString(), headers=PROTOBUF)
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert (stored.trace_id, stored.span_id) == ("fedcba9876543210" * 2, "0123456789abcdef")
    assert stored.parent_span_id == "1111111111111111"
    assert stored.duration_ms == 1000.0
    attrs = stored.attributes
    assert (attrs["k"], attrs["n"], attrs["f"], attrs["b"]) == ("v", 7, 1.5, True)
    assert (attrs["l"], attrs["m"], attrs["raw"]) == (["x", 2], {"inner": "y"}, "AQI=")


def test_empty_request_succeeds(client: TestClient) -> None:
    assert client.post("/v1/traces", content=b"", headers=PROTOBUF).content == b""
    assert client.post("/v1/traces", content=b"{}", headers=JSON).json() == {}


def test_json_quirks_numbers_enum_names_unknown_fields_and_charset(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    span = _json_span(kind="SPAN_KIND_CLIENT", startTimeUnixNano=T0_NS,
                      endTimeUnixNano=T0_NS + 5 * 10**8, futureField={"x": 1},
                      status={"code": "STATUS_CODE_ERROR", "message": "boom"})  # fmt: skip
    span["attributes"].append({"key": "gen_ai.usage.input_tokens", "value": {"intValue": 12}})
    document = json.loads(_json_body(span))
    document["somethingNew"] = True
    response = client.post(
        "/v1/traces",
        content=json.dumps(document),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert (stored.status, stored.error_message, stored.input_tokens) == ("error", "boom", 12)
    assert stored.duration_ms == 500.0


def test_json_base64_ids_are_accepted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    span = _json_span(traceId="W47/95gDgQPSabYzgT/GDA==", spanId="7uGbfsPBsXQ=")
    assert client.post("/v1/traces", content=_json_body(span), headers=JSON).json() == {}
    with session_factory() as session:
        assert session.scalars(select(Span.trace_id)).one() == "5b8efff798038103d269b633813fc60c"


@pytest.mark.parametrize("coding", ["gzip", "deflate-zlib", "deflate-raw"])
def test_compressed_bodies_are_decoded(
    client: TestClient, session_factory: sessionmaker[Session], coding: str
) -> None:
    body = export_request(make_span(attributes=llm_attributes())).SerializeToString()
    if coding == "gzip":
        compressed = gzip.compress(body)
    elif coding == "deflate-zlib":
        compressed = zlib.compress(body)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        compressed = packer.compress(body) + packer.flush()
    headers = {**PROTOBUF, "Content-Encoding": coding.split("-")[0]}
    assert client.post("/v1/traces", content=compressed, headers=headers).status_code == 200
    assert _count(session_factory) == 1


def test_gzip_bomb_is_refused_quickly(client: TestClient) -> None:
    member = gzip.compress(b"\0" * (16 * 1024 * 1024), compresslevel=9)
    bomb = member * 64  # concatenated gzip members: 1 GiB of zeros in about 1 MiB
    started = time.perf_counter()
    response = client.post(
        "/v1/traces", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert time.perf_counter() - started < 1.0
    assert "decompression" in status_pb2.Status.FromString(response.content).message


def test_oversized_body_with_content_length_is_refused(
    app: FastAPI, api_key: str, settings: Settings
) -> None:
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        body = b"\0" * (settings.max_body_bytes + 1)
        response = client.post("/v1/traces", content=body, headers=PROTOBUF)
    assert response.status_code == 413


@pytest.mark.anyio
async def test_oversized_chunked_body_is_not_read_past_the_limit(
    app: FastAPI, api_key: str, settings: Settings
) -> None:
    chunk, sent = b"\0" * 65536, 0
    total_chunks = 10 * settings.max_body_bytes // len(chunk)

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(total_chunks):
            sent += 1
            yield chunk

    transport = httpx.ASGITransport(app=app)
    headers = {**PROTOBUF, "Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/v1/traces", content=endless(), headers=headers)
    assert response.status_code == 413
    assert sent * len(chunk) <= settings.max_body_bytes + 2 * len(chunk)


def test_unknown_content_type_is_415(client: TestClient) -> None:
    response = client.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415


def test_unknown_content_encoding_is_415(client: TestClient) -> None:
    headers = {**PROTOBUF, "Content-Encoding": "br"}
    assert client.post("/v1/traces", content=b"x", headers=headers).status_code == 415


def test_corrupt_gzip_is_400(client: TestClient) -> None:
    headers = {**PROTOBUF, "Content-Encoding": "gzip"}
    assert (
        client.post("/v1/traces", content=b"\x1f\x8bnot gzip", headers=headers).status_code == 400
    )


def test_random_and_bit_flipped_protobuf_never_5xx(client: TestClient) -> None:
    rng = random.Random(1234)
    valid = bytearray(export_request(make_span(attributes=llm_attributes())).SerializeToString())
    bodies = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))) for _ in range(100)]
    for _ in range(200):
        flipped = bytearray(valid)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        bodies.append(bytes(flipped))
    for body in bodies:
        response = client.post("/v1/traces", content=body, headers=PROTOBUF)
        assert response.status_code in (200, 400), response.content
    good = export_request(make_span(attributes=llm_attributes())).SerializeToString()
    assert client.post("/v1/traces", content=good, headers=PROTOBUF).status_code == 200


def test_undecodable_protobuf_is_400_with_rpc_status(client: TestClient) -> None:
    response = client.post("/v1/traces", content=b"\xff\xff\xff\xff", headers=PROTOBUF)
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert status.code == 3
    assert status.message


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"resourceSpans": 5}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": {"a": 1}}]}]}]}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_is_400_with_json_status(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/traces", content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["code"] == 3


def test_invalid_ids_and_times_in_a_valid_batch_are_partial_success(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    spans = [
        _json_span(spanId="0000000000000001"),
        _json_span(spanId="0000000000000002", traceId="abcd"),
        _json_span(spanId="00000000000003"),
        _json_span(spanId="0000000000000004", traceId="0" * 32),
        _json_span(spanId="0000000000000005", parentSpanId="zz"),
        _json_span(spanId="0000000000000006", startTimeUnixNano="1000"),
        _json_span(
            spanId="0000000000000007",
            startTimeUnixNano=str(8_000_000_000 * 10**9),
            endTimeUnixNano=str(8_000_000_001 * 10**9),
        ),
        _json_span(spanId="0000000000000008", endTimeUnixNano=str(T0_NS - 1)),
    ]
    response = client.post("/v1/traces", content=_json_body(*spans), headers=JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "7"
    assert "invalid trace id (must be 16 bytes, not all zero) (2)" in partial["errorMessage"]
    assert "end time before start time (1)" in partial["errorMessage"]
    assert _count(session_factory) == 1


def test_partial_success_in_protobuf(client: TestClient) -> None:
    bad = make_span("2" * 16, start_ns=10)
    body = export_request(make_span(), bad).SerializeToString()
    response = client.post("/v1/traces", content=body, headers=PROTOBUF)
    parsed = ExportTraceServiceResponse.FromString(response.content)
    assert parsed.partial_success.rejected_spans == 1
    assert "start time out of range" in parsed.partial_success.error_message


def test_nul_bytes_and_invalid_utf8_are_cleaned(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    messages = json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "a\u0000b\ud800c"}]}]
    )
    span = _json_span(name="na\u0000me", attributes=[
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.input.messages", "value": {"stringValue": messages}},
        {"key": "k\u0000ey", "value": {"stringValue": "v\u0000al"}},
    ])  # fmt: skip
    raw = _json_body(span).replace(
        b'"chat"}}', b'"ch\xffat"}}', 1
    )  # invalid UTF-8 straight in the body
    response = client.post("/v1/traces", content=raw, headers=JSON)
    assert response.status_code == 200, response.text
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert stored.name == "name"
    assert stored.attributes["key"] == "val"
    assert stored.input[0]["parts"][0]["content"] == "ab?c"
    assert stored.attributes["gen_ai.operation.name"] == "ch\ufffdat"


def test_ten_thousand_deep_nesting_is_refused_or_bounded(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    deep_string = "[" * 10_000 + "]" * 10_000
    span = make_span(attributes={"gen_ai.input.messages": deep_string, "input.value": deep_string})
    body = export_request(span).SerializeToString()
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    deep = '{"arrayValue":{"values":[' * 10_000 + '{"stringValue":"x"}' + "]}}" * 10_000
    attributes = '"attributes":[{"key":"deep","value":' + deep + "}]"
    span_json = json.dumps(_json_span(spanId="2" * 16, attributes=[]))
    payload = _json_body().decode().replace('"spans": []', '"spans": [' + span_json + "]")
    payload = payload.replace('"attributes": []', attributes)
    assert client.post("/v1/traces", content=payload, headers=JSON).status_code == 400
    assert _count(session_factory) == 1


def test_nesting_past_32_levels_is_truncated_with_a_marker(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    value: Any = "leaf"
    for _ in range(40):  # protobuf itself refuses about 48 levels of AnyValue arrays
        value = [value]
    client.post(
        "/v1/traces",
        content=export_request(make_span(attributes={"deep": value})).SerializeToString(),
        headers=PROTOBUF,
    )
    with session_factory() as session:
        stored = session.scalars(select(Span)).one().attributes["deep"]
    depth = 0
    while isinstance(stored, list):
        stored, depth = stored[0], depth + 1
    assert depth < 33
    assert "nested deeper than 32" in stored


def test_four_mib_attribute_is_truncated_with_a_marker(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    big = "x" * (4 * 1024 * 1024)
    span = make_span(attributes=llm_attributes(**{"gen_ai.output.messages": big, "big": big}))
    body = gzip.compress(export_request(span).SerializeToString())
    response = client.post(
        "/v1/traces", content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert len(stored.attributes["big"]) < 1024 * 1024 + 100
    assert stored.attributes["big"].endswith("bytes dropped]")
    assert len(stored.output_text or "") < 1024 * 1024 + 100


def test_more_than_128_attributes_and_events_are_dropped_and_counted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    attributes = {f"a{i}": i for i in range(300)}
    span = make_span(attributes=attributes, dropped_attributes_count=3)
    for i in range(130):
        span.events.add(name=f"e{i}", time_unix_nano=T0_NS)
    client.post("/v1/traces", content=export_request(span).SerializeToString(), headers=PROTOBUF)
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert len(stored.attributes) == 128
    assert len(stored.events) == 128
    assert stored.dropped_counts == {
        "attributes": 3, "collector_attributes": 172, "collector_events": 2,
    }  # fmt: skip


def test_fixture_as_protobuf_gives_the_same_row_as_json(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    from collector import otlp

    text = (FIXTURES / "02-openinference-llm.json").read_bytes()
    request = otlp.decode_request(text, otlp.Encoding.JSON)
    client.post("/v1/traces", content=request.SerializeToString(), headers=PROTOBUF)
    with session_factory() as session:
        stored = session.scalars(select(Span)).one()
    assert (stored.input_tokens, stored.user_id) == (143, "user_1138")


def test_get_on_the_export_route_is_405(client: TestClient) -> None:
    assert client.get("/v1/traces").status_code == 405
