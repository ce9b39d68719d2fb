"""The OTLP/HTTP wire format: media types, content encodings, request decoding, responses."""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
import zlib
from collections.abc import Mapping
from typing import Any, TypeVar, overload

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from core.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError

#: Decompressed bytes produced per step, so a bomb is stopped a chunk past the cap.
_STEP = 1024 * 1024
_HEX = re.compile(r"\A(?:[0-9a-fA-F]{2})*\Z")
#: An id that is neither hex nor base64 becomes one byte, which id validation then rejects
#: for that span alone instead of failing the whole batch.
_INVALID_ID = base64.b64encode(b"\xff").decode("ascii")
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
#: The two export requests this collector decodes: traces, and logs (GenAI content events).
RequestT = TypeVar("RequestT", ExportTraceServiceRequest, ExportLogsServiceRequest)


class Encoding(enum.StrEnum):
    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"


def encoding_of(content_type: str | None) -> Encoding:
    """The OTLP encoding a ``Content-Type`` header names (parameters allowed), else 415."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf"):
        return Encoding.PROTOBUF
    if media == "application/json":
        return Encoding.JSON
    raise UnsupportedMediaTypeError(
        f"unsupported media type {media or '(none)'!r}; "
        "send application/x-protobuf or application/json"
    )


def decompress(body: bytes, content_encoding: str | None, cap: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate as zlib or raw, identity) with an output cap."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        if len(body) > cap:
            raise PayloadTooLargeError(f"body is over {cap} bytes")
        return body
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS, cap)
    if coding == "deflate":
        # Python's exporter sends zlib-wrapped deflate; some clients send raw deflate.
        try:
            return _inflate(body, zlib.MAX_WBITS, cap)
        except InvalidInputError as exc:
            if isinstance(exc, PayloadTooLargeError):
                raise
            return _inflate(body, -zlib.MAX_WBITS, cap)
    raise UnsupportedMediaTypeError(f"unsupported content encoding {coding!r}")


def _inflate(data: bytes, wbits: int, cap: int) -> bytes:
    out = bytearray()
    try:
        while data:
            inflater = zlib.decompressobj(wbits)
            pending = data
            while pending and not inflater.eof:
                out += inflater.decompress(pending, _STEP)
                if len(out) > cap:
                    raise PayloadTooLargeError(f"body is over {cap} bytes after decompression")
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise InvalidInputError("compressed body is truncated")
            data = inflater.unused_data  # concatenated gzip members
    except zlib.error as exc:
        raise InvalidInputError(f"body cannot be decompressed: {exc}") from exc
    return bytes(out)


@overload
def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest: ...
@overload
def decode_request(body: bytes, encoding: Encoding, request_type: type[RequestT]) -> RequestT: ...


def decode_request(
    body: bytes, encoding: Encoding, request_type: type[Message] = ExportTraceServiceRequest
) -> Message:
    """Parse an export request (traces by default); anything undecodable is a 400."""
    request = request_type()
    what = request_type.__name__
    if encoding is Encoding.PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RecursionError, ValueError) as exc:
            raise InvalidInputError(f"body is not a valid protobuf {what}: {exc}") from exc
        return request
    try:
        document = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise InvalidInputError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInputError("an OTLP/JSON body is an object")
    try:
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise InvalidInputError(f"body is not a valid OTLP/JSON {what}: {exc}") from exc
    return request


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """OTLP/JSON ids are hex, the protobuf JSON mapping expects base64: convert in place."""
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _convert_ids(span)
                for link in _items(span, "links"):
                    _convert_ids(link)
    for resource_logs in _items(document, "resourceLogs", "resource_logs"):
        for scope_logs in _items(resource_logs, "scopeLogs", "scope_logs"):
            for record in _items(scope_logs, "logRecords", "log_records"):
                _convert_ids(record)


def _items(container: Any, *keys: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    for key in keys:
        value = container.get(key)
        if isinstance(value, list):
            return value
    return []


def _convert_ids(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str):
            obj[key] = _id_to_base64(value)


def _id_to_base64(value: str) -> str:
    if _HEX.match(value):
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    try:  # lenient: some clients send the proto3-JSON base64 form
        return base64.b64encode(base64.b64decode(value, validate=True)).decode("ascii")
    except (binascii.Error, ValueError):
        return _INVALID_ID


def encode_response(encoding: Encoding, rejected: int = 0, message: str = "") -> bytes:
    """``ExportTraceServiceResponse``: empty on full success, ``partial_success`` otherwise."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    return _encode(encoding, response)


def encode_logs_response(encoding: Encoding, rejected: int = 0, message: str = "") -> bytes:
    """``ExportLogsServiceResponse``: empty on full success, ``partial_success`` otherwise."""
    response = ExportLogsServiceResponse()
    if rejected or message:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    return _encode(encoding, response)


def _encode(encoding: Encoding, response: Message) -> bytes:
    if encoding is Encoding.PROTOBUF:
        return bytes(response.SerializeToString())
    return json.dumps(json_format.MessageToDict(response)).encode("utf-8")


def encode_status(encoding: Encoding, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` failure body in the request's encoding."""
    status = status_pb2.Status(code=code, message=message)
    if encoding is Encoding.PROTOBUF:
        return bytes(status.SerializeToString())
    return json.dumps(json_format.MessageToDict(status)).encode("utf-8")


def rejection_message(rejected: Mapping[str, int], noun: str) -> str:
    """The partial-success ``error_message``: how many items were rejected, and why."""
    if not rejected:
        return ""
    reasons = ", ".join(f"{reason} ({n})" for reason, n in sorted(rejected.items()))
    return f"rejected {sum(rejected.values())} {noun}: {reasons}"
