"""``@observe``: one span per call of a sync, async, generator or async-generator function.

The wrapped function runs exactly once, in the caller's frame of mind: its exceptions pass
through unchanged (recorded on the span), and TokenTrail's own failures are swallowed. With no
endpoint configured the wrapper is one global read and a direct call.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast, overload

from tokentrail import _runtime
from tokentrail._errors import report_internal_error
from tokentrail._live import SPAN_KINDS, LiveSpan
from tokentrail._steps import (
    NO_HOOKS,
    MakeHooks,
    StepHooks,
    async_generator_wrapper,
    generator_wrapper,
)
from tokentrail._streams import ObservedSteps

P = ParamSpec("P")
R = TypeVar("R")


class _Spec:
    """What the decorator was told, and the wrapped function's signature (read once)."""

    __slots__ = (
        "capture_input",
        "capture_output",
        "keyword_names",
        "kind",
        "name",
        "positional",
        "signature",
        "skip_first",
    )

    def __init__(
        self,
        func: Callable[..., Any],
        name: str | None,
        kind: str,
        capture_input: bool,
        capture_output: bool,
    ) -> None:
        self.name: str = name or str(getattr(func, "__qualname__", None) or "call")
        self.kind = kind
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.keyword_names: frozenset[str] = frozenset()
        self.positional: tuple[str, ...] = ()
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
            first = next(iter(self.signature.parameters), None)
            self.skip_first = first in ("self", "cls")
            self.keyword_names = frozenset(
                name
                for name, p in self.signature.parameters.items()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            )
            self.positional = tuple(
                name
                for name, p in self.signature.parameters.items()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            )
        except (TypeError, ValueError):
            self.signature = None
            self.skip_first = False

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if (
            len(args) <= len(self.positional)
            and kwargs.keys() <= self.keyword_names
            and kwargs.keys().isdisjoint(self.positional[: len(args)])
        ):
            # What binding would give for a call that binds, without binding (it is slow).
            values = dict(zip(self.positional, args, strict=False))
            values.update(kwargs)
            if self.skip_first and values:
                values.pop(self.positional[0], None)
            return values
        if self.signature is not None:
            try:
                bound = self.signature.bind_partial(*args, **kwargs)
                values = dict(bound.arguments)
                if self.skip_first and values:
                    values.pop(next(iter(values)))
                return values
            except TypeError:
                pass  # the call itself will raise the user's TypeError
        return {"args": list(args), "kwargs": kwargs}

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveSpan | None:
        runtime = _runtime.active()
        if runtime is None:
            return None
        try:
            live = LiveSpan(runtime, self.name, self.kind, capture_output=self.capture_output)
            arguments = self.arguments(args, kwargs) if self.capture_input else None
            live.set_input(arguments, kwargs, self.capture_input)
            return live
        except Exception as exc:
            report_internal_error("observe.start", exc)
            return None


def _wrap_sync(func: Callable[P, R], spec: _Spec) -> Callable[P, R]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _runtime._runtime is None and _runtime._resolved:
            return func(*args, **kwargs)
        live = spec.start(args, kwargs)
        if live is None:
            return func(*args, **kwargs)
        token = live.attach()
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            live.detach(token)
            live.fail(exc)
            raise
        live.detach(token)
        return cast(R, live.finish(result))

    return wrapper


def _wrap_async(func: Callable[P, Any], spec: _Spec) -> Callable[P, Any]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        live = spec.start(args, kwargs)
        if live is None:
            return await func(*args, **kwargs)
        token = live.attach()
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            live.detach(token)
            live.fail(exc)
            raise
        live.detach(token)
        return live.finish(result)

    return wrapper


def _step_hooks(spec: _Spec) -> MakeHooks:
    def make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepHooks:
        if _runtime.active() is None:
            return NO_HOOKS
        return ObservedSteps(lambda: spec.start(args, kwargs))

    return make


def _decorate(
    func: Callable[P, R], name: str | None, kind: str, capture_input: bool, capture_output: bool
) -> Callable[P, R]:
    spec = _Spec(func, name, kind, capture_input, capture_output)
    if inspect.isasyncgenfunction(func):
        agen = async_generator_wrapper(func, _step_hooks(spec))
        return cast(Callable[P, R], functools.wraps(func)(agen))
    if inspect.isgeneratorfunction(func):
        gen = generator_wrapper(func, _step_hooks(spec))
        return cast(Callable[P, R], functools.wraps(func)(gen))
    if inspect.iscoroutinefunction(func):
        return cast(Callable[P, R], _wrap_async(func, spec))
    return _wrap_sync(func, spec)


@overload
def observe(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def observe(
    *,
    name: str | None = None,
    kind: str = "other",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def observe(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    kind: str = "other",
    capture_input: bool = True,
    capture_output: bool = True,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of the decorated function as a span.

    Works on functions and methods, sync or ``async``, plain or generators. Calls made inside
    become child spans. When the function returns an OpenAI, Anthropic, Gemini or LiteLLM
    response (or a stream of their chunks), the span becomes an LLM span with model, usage,
    finish reasons and messages.

    Args:
        func: The function, when used bare as ``@observe``.
        name: Span name (default: the function's qualified name).
        kind: ``llm``, ``chain``, ``tool``, ``retriever``, ``embedding``, ``agent`` or ``other``.
        capture_input: Record the arguments as ``input.value``.
        capture_output: Record the return value as ``output.value``.

    Raises:
        ValueError: ``kind`` is not one of the span kinds.
    """
    if kind not in SPAN_KINDS:
        raise ValueError(f"kind must be one of {sorted(SPAN_KINDS)}, got {kind!r}")
    if func is not None:
        return _decorate(func, name, kind, capture_input, capture_output)

    def decorator(inner: Callable[P, R]) -> Callable[P, R]:
        return _decorate(inner, name, kind, capture_input, capture_output)

    return decorator
