"""One span being recorded: its inputs, its outcome (value, LLM response, stream or error).

Every public method here is called from the decorator or the manual-span handle with user code
around it, so each one catches its own errors and reports them as internal errors: whatever goes
wrong in TokenTrail, the host's call completes as if we were not there.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from tokentrail._errors import report_internal_error
from tokentrail._llm import (
    MAX_MESSAGES_BYTES,
    LLMCall,
    llm_attributes,
    parse_response,
    read_request,
    request_attributes,
)
from tokentrail._llm_stream import StreamAccumulator
from tokentrail._otlp import defer_attributes
from tokentrail._runtime import Runtime
from tokentrail._serialize import TRUNCATED, to_json, to_plain
from tokentrail._streams import wrap_stream

SPAN_KINDS = frozenset({"llm", "chain", "tool", "retriever", "embedding", "agent", "other"})
KIND = "tokentrail.span.kind"
MAX_STACKTRACE = 32 * 1024
MAX_STREAM_ITEMS = 256
_ITEM_BYTES = 4 * 1024
_LLM_KWARGS = ("messages", "model", "contents", "input", "system", "instructions", "config")


def to_ns(value: dt.datetime | int | None) -> int | None:
    """OTel nanoseconds from an aware ``datetime`` or an ``int`` of ns (``None`` passes)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("datetime must be timezone-aware (e.g. datetime.now(timezone.utc))")
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"time must be an aware datetime or int nanoseconds, got {type(value)!r}")


def _message_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return "<unprintable exception>"


_UNSET: Any = object()


def _rough_size(value: Any, depth: int = 0) -> int:
    """Bytes ``value`` will take as JSON, roughly and capped (the queue's byte bound uses it)."""
    kind = type(value)
    if kind is str:
        return len(value) + 8
    if depth < 4 and (kind is dict or kind is list or kind is tuple):
        items = value.values() if kind is dict else value[:256]
        total = 0
        for item in items:
            total += len(item) + 24 if type(item) is str else _rough_size(item, depth + 1) + 16
        return min(MAX_MESSAGES_BYTES, total)
    return 16


def llm_span_attributes(
    call: LLMCall,
    kwargs: Mapping[str, Any],
    messages: Any,
    *,
    capture_input: bool,
    capture_content: bool,
    arguments: Any = _UNSET,
    input_json: str | None = None,
) -> dict[str, Any]:
    """Every attribute an LLM call gives its span: request, response, usage and content."""
    attributes = request_attributes(read_request(kwargs, messages), capture_input)
    attributes.update(llm_attributes(call, capture_content))
    if "gen_ai.input.messages" not in attributes:
        if arguments is not _UNSET:
            input_json = to_json(arguments)
        if input_json is not None:
            attributes["input.value"] = input_json
    return attributes


def _snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    snapshot = dict(values)
    for key in ("messages", "input", "contents"):
        if isinstance(snapshot.get(key), list):
            snapshot[key] = list(snapshot[key])
    return snapshot


class LiveSpan:
    """A started OTel span plus what TokenTrail needs to finish it."""

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        kind: str,
        *,
        start_time: int | None = None,
        attributes: Mapping[str, Any] | None = None,
        capture_output: bool = True,
    ) -> None:
        self.content = runtime.config.capture_content
        self.defer = runtime.owns_provider
        self.capture_output = capture_output and self.content
        self.capture_input = self.content
        self.kind = kind
        self.span = runtime.tracer.start_span(
            name, start_time=start_time, attributes={KIND: kind, **(attributes or {})}
        )
        self.started = time.monotonic()
        self._input_json: str | None = None
        self._input_pending: Any = _UNSET
        self.llm_kwargs: dict[str, Any] | None = None
        self.llm_messages: Any = None
        self.stream: StreamAccumulator | None = None
        self.items: list[Any] = []
        self.items_budget = 32 * 1024
        self.first_chunk: float | None = None
        self.ended = False

    # --- context -------------------------------------------------------------------------

    def attach(self) -> object:
        try:
            return otel_context.attach(trace.set_span_in_context(self.span))
        except Exception as exc:
            report_internal_error("span.attach", exc)
            return None

    def detach(self, token: object) -> None:
        if token is None:
            return
        try:
            otel_context.detach(token)  # type: ignore[arg-type]
        except Exception as exc:
            report_internal_error("span.detach", exc)

    # --- inputs --------------------------------------------------------------------------

    def set_input(
        self, value: Any, call_kwargs: Mapping[str, Any] | None = None, capture: bool = True
    ) -> None:
        """Remember the input (serialised now: arguments may be mutated by the call)."""
        try:
            self.capture_input = capture and self.content
            # The bound arguments first (messages passed positionally count too), then the
            # keywords themselves (a ``**kwargs`` function binds them under one name).
            source = next(
                (
                    candidate
                    for candidate in (value if isinstance(value, dict) else None, call_kwargs)
                    if candidate and any(key in candidate for key in _LLM_KWARGS)
                ),
                None,
            )
            llm_call = source is not None
            if self.capture_input and not (llm_call and isinstance(value, dict)):
                self.input_json = to_json(value)
            if source and llm_call:
                self.llm_kwargs = _snapshot(source)
                if self.capture_input and isinstance(value, dict):
                    # An LLM response will record these as gen_ai.input.messages: serialise
                    # the arguments only if it does not come (lists copied against mutation).
                    self._input_pending = self.llm_kwargs if source is value else _snapshot(value)
        except Exception as exc:
            report_internal_error("span.set_input", exc)

    @property
    def input_json(self) -> str | None:
        """The arguments as JSON (serialised on first use when they were kept for later)."""
        if self._input_pending is not _UNSET:
            pending, self._input_pending = self._input_pending, _UNSET
            self._input_json = to_json(pending)
        return self._input_json

    @input_json.setter
    def input_json(self, value: str | None) -> None:
        self._input_json = value
        self._input_pending = _UNSET

    # --- outcomes ------------------------------------------------------------------------

    def finish(self, result: Any) -> Any:
        """End the span with ``result``; returns ``result`` or, for a stream, a recording proxy."""
        try:
            call = parse_response(result)
            if call is not None:
                self._record_llm(call)
                self.end()
                return result
            proxy = wrap_stream(result, self)
            if proxy is not None:
                return proxy
            self.set_output(result)
            self.end()
        except Exception as exc:
            report_internal_error("span.finish", exc)
            self.end()
        return result

    def set_output(self, value: Any) -> None:
        try:
            if self.input_json is not None:
                self.span.set_attribute("input.value", self.input_json)
                self.input_json = None
            if self.capture_output:
                self.span.set_attribute("output.value", to_json(value))
        except Exception as exc:
            report_internal_error("span.set_output", exc)

    def record_llm(self, response: Any, messages: Any = None) -> bool:
        """Record a provider response explicitly; ``False`` when it was not recognised."""
        try:
            call = parse_response(response)
            if call is None:
                return False
            if messages is not None:
                self.llm_messages = messages
            self._record_llm(call)
            return True
        except Exception as exc:
            report_internal_error("span.record_llm", exc)
            return False

    def _record_llm(self, call: LLMCall) -> None:
        pending, input_json = self._input_pending, self._input_json
        self.input_json = None
        if call.kind != self.kind:
            self.span.set_attribute(KIND, call.kind)
        self.kind = call.kind
        build = functools.partial(
            llm_span_attributes,
            call,
            self.llm_kwargs or {},
            self.llm_messages,
            capture_input=self.capture_input,
            capture_content=self.content,
            arguments=pending,
            input_json=input_json,
        )
        if self.defer and self.span.is_recording():
            # Built on the export thread: the response is parsed already (plain values), the
            # request arguments were copied at the call; JSON and attribute checks cost the
            # host nothing. Only when the TracerProvider is ours: other processors on a shared
            # one must see the attributes on the span itself.
            size = _rough_size(self.llm_kwargs) + _rough_size(call.output_messages)
            if pending is not self.llm_kwargs:
                size += _rough_size(pending) if pending is not _UNSET else len(input_json or "")
            if defer_attributes(self.span.get_span_context().span_id, build, size):
                return
        self.span.set_attributes(build())

    def fail(self, exc: BaseException, end_time: int | None = None) -> None:
        """Record a user exception (status ERROR + exception event) and end the span."""
        if self.ended:
            return
        try:
            if not isinstance(exc, GeneratorExit):
                self._record_exception(exc)
        except Exception as error:
            report_internal_error("span.fail", error)
        self.end(end_time)

    def _record_exception(self, exc: BaseException) -> None:
        if self.input_json is not None:
            self.span.set_attribute("input.value", self.input_json)
            self.input_json = None
        name = type(exc).__qualname__
        message = _message_of(exc)
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        if len(stack) > MAX_STACKTRACE:
            stack = stack[-MAX_STACKTRACE:] + TRUNCATED
        self.span.add_event(
            "exception",
            {
                "exception.type": name,
                "exception.message": message[:MAX_STACKTRACE],
                "exception.stacktrace": stack,
                "exception.escaped": True,
            },
        )
        self.span.set_attribute("error.type", name)
        self.span.set_status(Status(StatusCode.ERROR, f"{name}: {message}"[:1024]))

    # --- streams -------------------------------------------------------------------------

    def stream_item(self, item: Any) -> None:
        try:
            if self.first_chunk is None:
                self.first_chunk = time.monotonic()
                self.stream = StreamAccumulator()
            assert self.stream is not None
            self.stream.feed(item)
            if (
                not self.stream.is_llm
                and self.capture_output
                and len(self.items) < MAX_STREAM_ITEMS
            ):
                if self.items_budget > 0:
                    plain = to_plain(item, _ITEM_BYTES)
                    self.items_budget -= len(str(plain))
                    self.items.append(plain)
                elif not self.items or self.items[-1] != TRUNCATED:
                    self.items.append(TRUNCATED)
        except Exception as exc:
            report_internal_error("span.stream_item", exc)

    def stream_done(self, value: Any = None) -> None:
        """The stream ended (exhausted or closed): record what it carried and end the span."""
        if self.ended:
            return
        try:
            stream = self.stream
            if self.first_chunk is not None:
                self.span.set_attribute(
                    "gen_ai.response.time_to_first_chunk", self.first_chunk - self.started
                )
            request = read_request(self.llm_kwargs or {}, self.llm_messages)
            input_chars = sum(
                len(part.get("content") or "")
                for message in request.messages or ()
                for part in message["parts"]
                if part.get("type") == "text"
            )
            call = stream.result(input_chars) if stream is not None else None
            if call is not None:
                self._record_llm(call)
            else:
                self.set_output(
                    self.items if value is None else {"items": self.items, "return": value}
                )
        except Exception as exc:
            report_internal_error("span.stream_done", exc)
        self.end()

    def end(self, end_time: int | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        try:
            self.span.end(end_time=end_time)
        except Exception as exc:
            report_internal_error("span.end", exc)
