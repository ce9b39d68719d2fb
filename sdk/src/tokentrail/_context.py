"""Attribution (user, session, tags, finance dimensions) applied to every span started beneath.

The values live in a ``ContextVar``, so they follow threads started with a copied context and
asyncio tasks, and nested ``context(...)`` blocks merge: inner values win, tags accumulate.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, ParamSpec, TypeVar, cast

from tokentrail._serialize import to_json
from tokentrail._steps import ContextOnlyHooks, async_generator_wrapper, generator_wrapper

P = ParamSpec("P")
R = TypeVar("R")

AttributeValue = str | bool | int | float | Sequence[str]

_ATTRIBUTION: ContextVar[Mapping[str, AttributeValue]] = ContextVar(
    "tokentrail_attribution", default=MappingProxyType({})
)

_SIMPLE_KEYS = {
    "user_id": "user.id",
    "session_id": "session.id",
    "team": "tokentrail.team",
    "feature": "tokentrail.feature",
    "customer": "tokentrail.customer",
    "environment": "deployment.environment.name",
    "cost_usd": "tokentrail.cost.usd",
}
TAGS = "tag.tags"
METADATA_PREFIX = "tokentrail.metadata."


def _attribute_value(value: Any) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return to_json(value)


def to_attributes(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Map friendly keyword names to the attribute contract; unknown keys pass through as-is.

    ``user_id``→``user.id``, ``tags``→``tag.tags``, ``metadata={k: v}``→
    ``tokentrail.metadata.k``, ``team``/``feature``/``customer``→``tokentrail.*``, …
    """
    out: dict[str, AttributeValue] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "tags":
            tags = [value] if isinstance(value, str) else list(cast(Iterable[Any], value))
            out[TAGS] = tuple(str(t) for t in tags)
        elif key == "metadata":
            for meta_key, meta_value in cast(Mapping[Any, Any], value).items():
                text = meta_value if isinstance(meta_value, str) else to_json(meta_value)
                out[f"{METADATA_PREFIX}{meta_key}"] = text
        elif key in _SIMPLE_KEYS:
            attr = _SIMPLE_KEYS[key]
            if key == "cost_usd":
                out[attr] = float(value)
            else:
                out[attr] = value if isinstance(value, str) else str(value)
        else:
            out[key] = _attribute_value(value)
    return out


def _merge(
    outer: Mapping[str, AttributeValue], inner: Mapping[str, AttributeValue]
) -> dict[str, AttributeValue]:
    merged = dict(outer)
    for key, value in inner.items():
        previous = merged.get(key)
        if key == TAGS and isinstance(previous, tuple) and isinstance(value, tuple):
            merged[key] = tuple(dict.fromkeys((*previous, *value)))
        else:
            merged[key] = value
    return merged


def current_attribution() -> Mapping[str, AttributeValue]:
    """The attribution attributes of the current context (empty when none)."""
    return _ATTRIBUTION.get()


class context:
    """Attach user, session, tags and finance dimensions to every span started beneath.

    Use it as a context manager or as a decorator (sync, async and generator functions)::

        with tokentrail.context(user_id="u-42", tags=["beta"], team="search"):
            answer(question)

        @tokentrail.context(feature="summaries")
        def summarise(text: str) -> str: ...

    Args:
        user_id: End user (``user.id``).
        session_id: Conversation or session (``session.id``).
        tags: Tags (``tag.tags``); nested blocks accumulate them.
        team: Finance dimension ``tokentrail.team``.
        feature: Finance dimension ``tokentrail.feature``.
        customer: Finance dimension ``tokentrail.customer``.
        environment: ``deployment.environment.name``.
        metadata: Free-form ``tokentrail.metadata.<key>`` strings.
    """

    def __init__(
        self,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        tags: Sequence[str] | None = None,
        team: str | None = None,
        feature: str | None = None,
        customer: str | None = None,
        environment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._attributes = to_attributes(
            {
                "user_id": user_id,
                "session_id": session_id,
                "tags": tags,
                "team": team,
                "feature": feature,
                "customer": customer,
                "environment": environment,
                "metadata": metadata,
            }
        )
        self._tokens: list[Token[Mapping[str, AttributeValue]]] = []

    def _enter(self) -> Token[Mapping[str, AttributeValue]]:
        return _ATTRIBUTION.set(_merge(_ATTRIBUTION.get(), self._attributes))

    @staticmethod
    def _leave(token: object) -> None:
        _ATTRIBUTION.reset(cast(Token[Mapping[str, AttributeValue]], token))

    def __enter__(self) -> context:
        self._tokens.append(self._enter())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            self._leave(self._tokens.pop())

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        hooks = ContextOnlyHooks(self._enter, self._leave)
        wrapper: Callable[..., Any]
        if inspect.isasyncgenfunction(func):
            wrapper = async_generator_wrapper(func, lambda args, kwargs: hooks)
        elif inspect.isgeneratorfunction(func):
            wrapper = generator_wrapper(func, lambda args, kwargs: hooks)
        elif inspect.iscoroutinefunction(func):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = self._enter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    self._leave(token)

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                token = self._enter()
                try:
                    return func(*args, **kwargs)
                finally:
                    self._leave(token)

        return cast(Callable[P, R], functools.wraps(func)(wrapper))
