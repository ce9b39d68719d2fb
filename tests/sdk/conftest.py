"""SDK test fixtures: a stub collector, a clean SDK per test, and no swallowed internal errors."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import tokentrail
from tokentrail import _errors, _runtime

from tests.sdk.receiver import Receiver

API_KEY = "tt-test-key-0123456789"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_internal_errors: the test provokes TokenTrail internal errors on purpose"
    )


@pytest.fixture(autouse=True)
def fail_on_internal_errors(request: pytest.FixtureRequest) -> Iterator[list[BaseException]]:
    """Swallowing our own errors keeps hosts alive; in our tests each one is a failure."""
    seen: list[BaseException] = []

    def listener(where: str, exc: BaseException) -> None:
        seen.append(exc)

    _errors.add_listener(listener)
    yield seen
    _errors.remove_listener(listener)
    if not request.node.get_closest_marker("allow_internal_errors"):
        assert not seen, f"TokenTrail swallowed internal errors: {seen!r}"


@pytest.fixture(autouse=True)
def clean_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts unconfigured, with no TokenTrail/OTel variables from the outside."""
    for name in list(os.environ):
        if name.startswith(("TOKENTRAIL_", "OTEL_")):
            monkeypatch.delenv(name)
    _runtime.reset_for_tests()
    yield
    _runtime.shutdown(timeout=1.0)
    _runtime.reset_for_tests()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    stub = Receiver().start()
    yield stub
    stub.stop()


@pytest.fixture
def sdk(receiver: Receiver) -> Receiver:
    """The SDK configured against the stub collector; returns the receiver to assert on."""
    tokentrail.configure(endpoint=receiver.url, api_key=API_KEY, service="sdk-tests")
    return receiver


def flush(receiver: Receiver) -> Receiver:
    assert tokentrail.flush(timeout=5.0)
    return receiver
