"""@observe on every kind of function: spans, nesting, exceptions, signatures, no-op mode."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import json
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import tokentrail

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver


@tokentrail.observe
def add(a: int, b: int = 1) -> int:
    return a + b


@tokentrail.observe(name="pipeline", kind="chain")
def pipeline(x: int) -> int:
    return add(x, 2) + add(x)


@tokentrail.observe
async def add_async(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return add(a, b)


@tokentrail.observe(kind="retriever")
def numbers(n: int) -> Iterator[int]:
    for i in range(n):
        yield add(i, 10)
    return None


@tokentrail.observe
async def numbers_async(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield add(i, 100)


class Service:
    def __init__(self) -> None:
        self.calls = 0

    @tokentrail.observe
    def handle(self, item: str) -> str:
        self.calls += 1
        return item.upper()

    @classmethod
    @tokentrail.observe
    def build(cls, name: str) -> str:
        return f"{cls.__name__}:{name}"


def test_sync_call_records_input_output_and_kind(sdk: Receiver) -> None:
    assert add(2, b=3) == 5
    span = flush(sdk).by_name("add")
    assert json.loads(span.attributes["input.value"]) == {"a": 2, "b": 3}
    assert json.loads(span.attributes["output.value"]) == 5
    assert span.attributes["tokentrail.span.kind"] == "other"
    assert span.resource["service.name"] == "sdk-tests"


def test_nested_calls_become_children(sdk: Receiver) -> None:
    pipeline(1)
    flush(sdk)
    root = sdk.by_name("pipeline")
    children = [s for s in sdk.spans if s.name == "add"]
    assert root.attributes["tokentrail.span.kind"] == "chain"
    assert root.parent_span_id == ""
    assert len(children) == 2
    assert {c.parent_span_id for c in children} == {root.span_id}
    assert {c.trace_id for c in children} == {root.trace_id}


def test_async_function_nests_under_its_span(sdk: Receiver) -> None:
    assert asyncio.run(add_async(1, 2)) == 3
    flush(sdk)
    outer, inner = sdk.by_name("add_async"), sdk.by_name("add")
    assert inner.parent_span_id == outer.span_id


def test_generator_span_covers_iteration_and_parents_inner_calls(sdk: Receiver) -> None:
    assert list(numbers(3)) == [10, 11, 12]
    flush(sdk)
    gen = sdk.by_name("numbers")
    inner = [s for s in sdk.spans if s.name == "add"]
    assert gen.attributes["tokentrail.span.kind"] == "retriever"
    assert json.loads(gen.attributes["output.value"]) == [10, 11, 12]
    assert {s.parent_span_id for s in inner} == {gen.span_id}


def test_generator_does_not_leak_its_context_to_the_consumer(sdk: Receiver) -> None:
    for _ in numbers(2):
        add(0)  # called by the consumer between items: not a child of the generator
    flush(sdk)
    gen = sdk.by_name("numbers")
    consumer_calls = [s for s in sdk.spans if s.name == "add" and s.parent_span_id == ""]
    assert len(consumer_calls) == 2
    assert gen.parent_span_id == ""


def test_generator_closed_early_ends_its_span(sdk: Receiver) -> None:
    gen = numbers(10)
    assert next(gen) == 10
    gen.close()
    assert flush(sdk).by_name("numbers").end_ns > 0


def test_async_generator(sdk: Receiver) -> None:
    async def consume() -> list[int]:
        return [x async for x in numbers_async(2)]

    assert asyncio.run(consume()) == [100, 101]
    flush(sdk)
    gen = sdk.by_name("numbers_async")
    assert {s.parent_span_id for s in sdk.spans if s.name == "add"} == {gen.span_id}
    assert json.loads(gen.attributes["output.value"]) == [100, 101]


def test_methods_drop_self_from_input(sdk: Receiver) -> None:
    service = Service()
    assert service.handle("x") == "X"
    assert Service.build("y") == "Service:y"
    flush(sdk)
    assert json.loads(sdk.by_name("Service.handle").attributes["input.value"]) == {"item": "x"}
    assert json.loads(sdk.by_name("Service.build").attributes["input.value"]) == {"name": "y"}


def test_user_exception_propagates_unchanged_and_is_recorded(sdk: Receiver) -> None:
    calls = []
    error = KeyError("missing")

    @tokentrail.observe(name="boom")
    def boom() -> None:
        calls.append(1)
        raise error

    with pytest.raises(KeyError) as caught:
        boom()
    assert caught.value is error
    assert calls == [1]
    span = flush(sdk).by_name("boom")
    assert span.status_code == 2  # ERROR
    assert span.attributes["error.type"] == "KeyError"
    (event,) = span.events
    assert event["name"] == "exception"
    assert event["exception.type"] == "KeyError"
    assert "raise error" in event["exception.stacktrace"]


def test_exception_inside_generator_is_recorded(sdk: Receiver) -> None:
    @tokentrail.observe(name="bad_gen")
    def bad_gen() -> Iterator[int]:
        yield 1
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        list(bad_gen())
    assert flush(sdk).by_name("bad_gen").status_code == 2


def test_decorator_keeps_signature_name_and_docstring() -> None:
    def original(a: int, *, b: str = "x") -> str:
        """Doc."""
        return b * a

    for wrapped in (tokentrail.observe(original), tokentrail.observe(name="n")(original)):
        assert wrapped.__name__ == "original"
        assert wrapped.__doc__ == "Doc."
        assert inspect.signature(wrapped) == inspect.signature(original)
        assert wrapped(2, b="y") == "yy"


def test_function_kinds_are_preserved() -> None:
    assert inspect.iscoroutinefunction(add_async)
    assert inspect.isgenerator(numbers(1))
    assert inspect.isasyncgenfunction(numbers_async)


def test_bad_kind_is_rejected_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="kind"):
        tokentrail.observe(kind="banana")


def test_unconfigured_decorator_is_a_no_op() -> None:
    sentinel = object()
    threads_before = set(threading.enumerate())

    @tokentrail.observe
    def same(value: object) -> object:
        return value

    assert same(sentinel) is sentinel
    gen = numbers(2)
    assert inspect.isgenerator(gen)
    assert list(gen) == [10, 11]
    assert tokentrail.stats()["created"] == 0
    assert set(threading.enumerate()) <= threads_before


def test_capture_flags_hide_input_and_output(sdk: Receiver) -> None:
    @tokentrail.observe(name="secret", capture_input=False, capture_output=False)
    def secret(x: str) -> str:
        return x

    secret("classified")
    attrs = flush(sdk).by_name("secret").attributes
    assert "input.value" not in attrs
    assert "output.value" not in attrs


def test_capture_content_false_records_no_content(receiver: Receiver) -> None:
    tokentrail.configure(endpoint=receiver.url, capture_content=False)
    add(1, 2)
    attrs = flush(receiver).by_name("add").attributes
    assert "input.value" not in attrs
    assert "output.value" not in attrs


def test_hostile_arguments_never_break_the_call(sdk: Receiver) -> None:
    class Evil:
        def __repr__(self) -> str:
            raise RuntimeError("repr explodes")

        def __str__(self) -> str:
            raise RuntimeError("str explodes")

    loop: list[object] = []
    loop.append(loop)
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["next"] = {}
        node = node["next"]  # type: ignore[assignment]

    @tokentrail.observe(name="hostile")
    def hostile(*args: object) -> int:
        return len(args)

    assert hostile(Evil(), loop, deep, "x" * 1_000_000, (i for i in range(3))) == 5
    value = flush(sdk).by_name("hostile").attributes["input.value"]
    assert len(value) < 40 * 1024
    parsed = json.loads(value)
    assert parsed["args"][0].endswith(".Evil object>")


def test_threads_keep_their_own_parents(sdk: Receiver) -> None:
    def work(i: int) -> None:
        pipeline(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flush(sdk)
    roots = {s.span_id: s for s in sdk.spans if s.name == "pipeline"}
    children = [s for s in sdk.spans if s.name == "add"]
    assert len(roots) == 8
    assert len(children) == 16
    for child in children:
        assert roots[child.parent_span_id].trace_id == child.trace_id


def test_thread_started_with_copied_context_keeps_the_parent(sdk: Receiver) -> None:
    @tokentrail.observe(name="parent")
    def parent() -> None:
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(add, 1))
        thread.start()
        thread.join()

    parent()
    flush(sdk)
    assert sdk.by_name("add").parent_span_id == sdk.by_name("parent").span_id


def test_asyncio_tasks_keep_the_parent(sdk: Receiver) -> None:
    @tokentrail.observe(name="fan_out")
    async def fan_out() -> list[int]:
        return list(await asyncio.gather(*(add_async(i, i) for i in range(5))))

    assert asyncio.run(fan_out()) == [0, 2, 4, 6, 8]
    flush(sdk)
    root = sdk.by_name("fan_out")
    middles = [s for s in sdk.spans if s.name == "add_async"]
    assert {m.parent_span_id for m in middles} == {root.span_id}
    leaves = [s for s in sdk.spans if s.name == "add"]
    assert {leaf.parent_span_id for leaf in leaves} == {m.span_id for m in middles}


def test_ten_thousand_calls_never_raise_with_a_dead_collector() -> None:
    tokentrail.configure(endpoint="http://127.0.0.1:9")

    class Evil:
        def __repr__(self) -> str:
            raise RuntimeError

    @tokentrail.observe(name="anything")
    def anything(*args: object) -> int:
        return len(args)

    for i in range(10_000):
        assert anything(i, Evil(), {"password": "p", "items": [i]}) == 3
    stats = tokentrail.stats()
    assert stats["created"] == stats["exported"] + stats["dropped"] + stats["queued"]
