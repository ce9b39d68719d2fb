"""Manual spans (``tokentrail.span``), attributes on the current span, and feedback scores."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import trace

from tokentrail import _runtime
from tokentrail._context import to_attributes
from tokentrail._errors import report_internal_error
from tokentrail._live import SPAN_KINDS, LiveSpan, to_ns

Timestamp = dt.datetime | int


class SpanHandle:
    """What ``with tokentrail.span(...) as s`` yields; every method is safe to call when the SDK
    is not configured (it then does nothing)."""

    def __init__(self, live: LiveSpan | None) -> None:
        self._live = live

    @property
    def trace_id(self) -> str | None:
        """The span's trace id as 32 hex digits (``None`` when not recording)."""
        return f"{self._live.span.get_span_context().trace_id:032x}" if self._live else None

    @property
    def span_id(self) -> str | None:
        """The span id as 16 hex digits (``None`` when not recording)."""
        return f"{self._live.span.get_span_context().span_id:016x}" if self._live else None

    def set_output(self, value: Any) -> None:
        """Record the span's result as ``output.value`` (bounded JSON)."""
        if self._live is not None:
            self._live.set_output(value)

    def record_llm_response(self, response: Any, messages: Any = None) -> None:
        """Make this an LLM span from a provider response (and the input ``messages``)."""
        if self._live is not None:
            self._live.record_llm(response, messages)

    def set_attributes(self, **attributes: Any) -> None:
        """Set attributes; friendly names (``user_id``, ``tags``, ``metadata``…) are mapped."""
        if self._live is not None:
            _set_on(self._live.span, attributes)

    def fail(self, error: BaseException, end_time: Timestamp | None = None) -> None:
        """Mark the span failed with ``error`` and end it (now or at ``end_time``).

        For errors the app handles itself, or for back-dated history; an exception that
        escapes the ``with`` block is recorded without this call.

        Raises:
            ValueError: ``end_time`` is a naive datetime or not a time.
        """
        end_ns = to_ns(end_time)
        if self._live is not None:
            self._live.fail(error, end_ns)

    def end(self, end_time: Timestamp | None = None) -> None:
        """End the span now or at ``end_time`` (aware datetime or int nanoseconds).

        Raises:
            ValueError: ``end_time`` is a naive datetime or not a time.
        """
        end_ns = to_ns(end_time)
        if self._live is not None:
            self._live.end(end_ns)


def _set_on(span: trace.Span, attributes: Mapping[str, Any]) -> None:
    try:
        if span.is_recording():
            span.set_attributes(to_attributes(attributes))
    except Exception as exc:
        report_internal_error("set_attributes", exc)


class span:
    """A manual span, as a context manager; nested spans and ``@observe`` calls are children.

    Args:
        name: Span name.
        kind: ``llm``, ``chain``, ``tool``, ``retriever``, ``embedding``, ``agent`` or ``other``.
        start_time: When it started (aware datetime or int ns), e.g. to back-date history.
        input: The input, recorded as ``input.value``.
        attributes: Extra attributes (friendly names are mapped as in ``set_attributes``).

    Raises:
        ValueError: bad ``kind`` or ``start_time``.
    """

    def __init__(
        self,
        name: str,
        *,
        kind: str = "other",
        start_time: Timestamp | None = None,
        input: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        if kind not in SPAN_KINDS:
            raise ValueError(f"kind must be one of {sorted(SPAN_KINDS)}, got {kind!r}")
        self._name = name
        self._kind = kind
        self._start = to_ns(start_time)
        self._input = input
        self._attributes = attributes
        self._live: LiveSpan | None = None
        self._token: object = None

    def __enter__(self) -> SpanHandle:
        runtime = _runtime.active()
        if runtime is None:
            return SpanHandle(None)
        try:
            extra = to_attributes(self._attributes) if self._attributes else None
            self._live = LiveSpan(
                runtime, self._name, self._kind, start_time=self._start, attributes=extra
            )
            if self._input is not None:
                self._live.set_input(self._input)
            self._token = self._live.attach()
        except Exception as exc:
            report_internal_error("span.enter", exc)
            self._live = None
        return SpanHandle(self._live)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        live = self._live
        if live is None:
            return
        live.detach(self._token)
        if exc is not None:
            live.fail(exc)  # a no-op when the block already ended the span
        elif not live.ended:
            if live.input_json is not None:
                live.span.set_attribute("input.value", live.input_json)
            live.end()


def set_attributes(**attributes: Any) -> None:
    """Set attributes on the current span (no-op when there is none).

    Friendly names are mapped to the attribute contract: ``user_id``, ``session_id``, ``tags``,
    ``team``, ``feature``, ``customer``, ``environment``, ``metadata`` (a dict) and ``cost_usd``;
    any other name is set as given (``set_attributes(**{"gen_ai.prompt.name": "faq"})``).
    """
    _set_on(trace.get_current_span(), attributes)


def score(
    name: str,
    value: float | int | bool | str,
    *,
    trace_id: str | None = None,
    span_id: str | None = None,
    comment: str | None = None,
    client_id: str | None = None,
) -> None:
    """Send a feedback score for a trace (default: the current one) in the background.

    Never raises and never blocks: the score is queued (bounded) and POSTed to
    ``{endpoint}/api/v1/scores``. ``client_id`` makes re-sends idempotent (a random one is
    generated when omitted).
    """
    try:
        runtime = _runtime.active()
        if runtime is None:
            return
        if trace_id is None:
            context = trace.get_current_span().get_span_context()
            if not context.is_valid:
                _runtime.logger.warning(
                    "tokentrail.score(%r) outside a trace and without trace_id", name
                )
                return
            trace_id = f"{context.trace_id:032x}"
            span_id = span_id or f"{context.span_id:016x}"
        runtime.scores.submit(
            {
                "trace_id": trace_id,
                "span_id": span_id,
                "name": name,
                "value": value,
                "comment": comment,
                "client_id": client_id or uuid.uuid4().hex,
                "source": "feedback",
            }
        )
    except Exception as exc:
        report_internal_error("score", exc)
