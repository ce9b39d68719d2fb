"""Drive a user generator step by step, so that per-step work (attaching a span or a context)
happens around each resume and never leaks into the consumer's context between yields.

A generator's body runs in whatever context the consumer has when it calls ``next``; attaching
once and yielding would leave our context set in the consumer. So every resume is bracketed by
``hooks.resume()``/``hooks.suspend()``. User code runs once per step; its exceptions are recorded
and re-raised unchanged. Every hook is our code and must not raise.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol


class StepHooks(Protocol):
    def resume(self) -> object: ...

    def suspend(self, token: object) -> None: ...

    def item(self, value: object) -> None: ...

    def done(self, value: object) -> None: ...

    def error(self, exc: BaseException) -> None: ...

    def closed(self) -> None: ...


class ContextOnlyHooks:
    """Hooks that only bracket each step (for ``tokentrail.context`` on generator functions)."""

    def __init__(self, enter: Any, leave: Any) -> None:
        self._enter = enter
        self._leave = leave

    def resume(self) -> object:
        return self._enter()

    def suspend(self, token: object) -> None:
        self._leave(token)

    def item(self, value: object) -> None:
        return None

    def done(self, value: object) -> None:
        return None

    def error(self, exc: BaseException) -> None:
        return None

    def closed(self) -> None:
        return None


class _NoHooks:
    """Used when the SDK is off: the steps run with nothing around them."""

    def resume(self) -> object:
        return None

    def suspend(self, token: object) -> None:
        return None

    def item(self, value: object) -> None:
        return None

    def done(self, value: object) -> None:
        return None

    def error(self, exc: BaseException) -> None:
        return None

    def closed(self) -> None:
        return None


NO_HOOKS = _NoHooks()
MakeHooks = Callable[[tuple[Any, ...], dict[str, Any]], StepHooks]


def generator_wrapper(
    func: Callable[..., Generator[Any, Any, Any]], make_hooks: MakeHooks
) -> Callable[..., Generator[Any, Any, Any]]:
    """A generator function (so ``inspect.isgeneratorfunction`` still holds) that yields what
    ``func`` yields, forwarding ``send``/``throw``/``close``, with ``hooks`` around each step."""

    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        gen = func(*args, **kwargs)
        hooks = make_hooks(args, kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = hooks.resume()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = gen.throw(exc)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                hooks.suspend(token)
                hooks.done(stop.value)
                return stop.value
            except BaseException as exc:
                hooks.suspend(token)
                hooks.error(exc)
                raise
            hooks.suspend(token)
            hooks.item(item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = hooks.resume()
                try:
                    gen.close()
                except BaseException as exc:
                    hooks.suspend(token)
                    hooks.error(exc)
                    raise
                hooks.suspend(token)
                hooks.closed()
                raise
            except BaseException as exc:
                to_throw = exc

    return wrapper


def async_generator_wrapper(
    func: Callable[..., AsyncGenerator[Any, Any]], make_hooks: MakeHooks
) -> Callable[..., AsyncGenerator[Any, Any]]:
    """The async-generator twin of :func:`generator_wrapper`."""

    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        gen = func(*args, **kwargs)
        hooks = make_hooks(args, kwargs)
        to_send: Any = None
        to_throw: BaseException | None = None
        while True:
            token = hooks.resume()
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = await gen.athrow(exc)
                else:
                    item = await gen.asend(to_send)
            except StopAsyncIteration:
                hooks.suspend(token)
                hooks.done(None)
                return
            except BaseException as exc:
                hooks.suspend(token)
                hooks.error(exc)
                raise
            hooks.suspend(token)
            hooks.item(item)
            try:
                to_send = yield item
            except GeneratorExit:
                token = hooks.resume()
                try:
                    await gen.aclose()
                except BaseException as exc:
                    hooks.suspend(token)
                    hooks.error(exc)
                    raise
                hooks.suspend(token)
                hooks.closed()
                raise
            except BaseException as exc:
                to_throw = exc

    return wrapper
