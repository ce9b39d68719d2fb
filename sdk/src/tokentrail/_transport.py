"""The OTLP/HTTP exporter, with a session that never reads more than 64 KiB of a response.

The exporter (opentelemetry-exporter-otlp-proto-http >= 1.45) already retries 429/502/503/504,
honours ``Retry-After`` within its deadline and does not retry other 4xx. What it does not do is
bound the response it reads: a hostile or broken collector answering a 1 GiB body would be read
whole into memory. The session below streams the response and keeps at most ``MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

import time
from typing import Any

import requests  # type: ignore[import-untyped,unused-ignore]
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExporter

from tokentrail._config import Config

MAX_RESPONSE_BYTES = 64 * 1024
_READ_CHUNK = 8 * 1024


def read_bounded(raw: Any, limit: int, deadline: float) -> bytes:
    """Read at most ``limit`` bytes from a file-like ``raw`` stream, stopping at ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and time.monotonic() < deadline:
        chunk = raw.read(min(_READ_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class BoundedSession(requests.Session):  # type: ignore[misc,unused-ignore]
    """A ``requests.Session`` whose responses hold at most 64 KiB of body."""

    def request(  # type: ignore[override,unused-ignore]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> Any:
        kwargs["stream"] = True
        timeout = kwargs.get("timeout")
        budget = float(timeout) if isinstance(timeout, int | float) else 10.0
        response = super().request(method, url, *args, **kwargs)
        try:
            body = read_bounded(response.raw, MAX_RESPONSE_BYTES, time.monotonic() + budget)
        except Exception:
            body = b""
        finally:
            response.close()
        # requests exposes the body through these two private fields; setting them makes the
        # bounded bytes what `.content`/`.text` return, without another read.
        response._content = body
        response._content_consumed = True
        return response


def make_exporter(config: Config) -> SpanExporter:
    """An OTLP/HTTP protobuf exporter to ``{endpoint}/v1/traces``: gzip, Bearer key, bounded."""
    return OTLPSpanExporter(
        endpoint=config.traces_url,
        headers=config.auth_headers(),
        timeout=config.export_timeout,
        compression=Compression.Gzip,
        session=BoundedSession(),
    )
