"""Recording proxies for iterators returned by decorated functions (e.g. an openai ``Stream``).

The caller receives every chunk unchanged; anything else (``.response``, ``.close()``, ``with``)
is forwarded to the wrapped stream. The span ends when the stream is exhausted, closed, fails,
or leaves its ``with`` block.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tokentrail._errors import report_internal_error

if TYPE_CHECKING:
    from tokentrail._live import LiveSpan

_NOT_STREAMS = (str, bytes, bytearray, memoryview, Mapping, list, tuple, set, frozenset)


def _close(target: Any) -> Any:
    close = getattr(target, "close", None)
    return close() if callable(close) else None


class RecordingStream:
    """A sync iterator proxy that records chunks on a :class:`LiveSpan`."""

    def __init__(self, inner: Any, live: LiveSpan) -> None:
        self._tt_inner = inner
        self._tt_live = live

    def __iter__(self) -> RecordingStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self._tt_inner)
        except StopIteration:
            self._tt_live.stream_done()
            raise
        except BaseException as exc:
            self._tt_live.fail(exc)
            raise
        self._tt_live.stream_item(item)
        return item

    def close(self) -> Any:
        try:
            return _close(self._tt_inner)
        finally:
            self._tt_live.stream_done()

    def __enter__(self) -> RecordingStream:
        enter = getattr(self._tt_inner, "__enter__", None)
        if callable(enter):
            enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            leave = getattr(self._tt_inner, "__exit__", None)
            return leave(exc_type, exc, tb) if callable(leave) else _close(self._tt_inner)
        finally:
            self._tt_live.stream_done()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tt_inner, name)


class RecordingAsyncStream:
    """An async iterator proxy that records chunks on a :class:`LiveSpan`."""

    def __init__(self, inner: Any, live: LiveSpan) -> None:
        self._tt_inner = inner
        self._tt_live = live

    def __aiter__(self) -> RecordingAsyncStream:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._tt_inner.__anext__()
        except StopAsyncIteration:
            self._tt_live.stream_done()
            raise
        except BaseException as exc:
            self._tt_live.fail(exc)
            raise
        self._tt_live.stream_item(item)
        return item

    async def _close_inner(self) -> Any:
        for name in ("aclose", "close"):
            method = getattr(self._tt_inner, name, None)
            if callable(method):
                result = method()
                if hasattr(result, "__await__"):
                    result = await result
                return result
        return None

    async def aclose(self) -> Any:
        try:
            return await self._close_inner()
        finally:
            self._tt_live.stream_done()

    async def close(self) -> Any:
        return await self.aclose()

    async def __aenter__(self) -> RecordingAsyncStream:
        enter = getattr(self._tt_inner, "__aenter__", None)
        if callable(enter):
            await enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            leave = getattr(self._tt_inner, "__aexit__", None)
            if callable(leave):
                return await leave(exc_type, exc, tb)
            return await self._close_inner()
        finally:
            self._tt_live.stream_done()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tt_inner, name)


def wrap_stream(result: Any, live: LiveSpan) -> Any:
    """A recording proxy when ``result`` is an (async) iterator, else ``None``."""
    try:
        if result is None or isinstance(result, _NOT_STREAMS):
            return None
        kind = type(result)
        if hasattr(kind, "__anext__") and hasattr(kind, "__aiter__"):
            return RecordingAsyncStream(result, live)
        if hasattr(kind, "__next__") and hasattr(kind, "__iter__"):
            return RecordingStream(result, live)
    except Exception as exc:
        report_internal_error("streams.wrap", exc)
    return None


class ObservedSteps:
    """Step hooks for a decorated generator function: the span starts on the first resume."""

    def __init__(self, start: Any) -> None:
        self._start = start
        self._live: LiveSpan | None = None
        self._started = False

    def resume(self) -> object:
        if not self._started:
            self._started = True
            self._live = self._start()
        return self._live.attach() if self._live is not None else None

    def suspend(self, token: object) -> None:
        if self._live is not None:
            self._live.detach(token)

    def item(self, value: object) -> None:
        if self._live is not None:
            self._live.stream_item(value)

    def done(self, value: object) -> None:
        if self._live is not None:
            self._live.stream_done(value)

    def error(self, exc: BaseException) -> None:
        if self._live is not None:
            self._live.fail(exc)

    def closed(self) -> None:
        if self._live is not None:
            self._live.stream_done()
