"""Configuration (arguments, environment) and the shape of the public API."""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path

import pytest
import tokentrail
from tokentrail._config import Config, resolve

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver

PACKAGE = Path(tokentrail.__file__).parent


@tokentrail.observe(name="env_call")
def env_call() -> int:
    return 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "not a url"}, "endpoint"),
        ({"endpoint": "ftp://host"}, "endpoint"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"sample_rate": -0.1}, "sample_rate"),
        ({"mask": "not callable"}, "mask"),
        ({"capture_content": "yes"}, "capture_content"),
        ({"service": ""}, "service"),
    ],
)
def test_bad_explicit_arguments_raise(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tokentrail.configure(**kwargs)  # type: ignore[arg-type]


def test_environment_alone_configures_the_sdk(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENTRAIL_ENDPOINT", receiver.url + "/")
    monkeypatch.setenv("TOKENTRAIL_API_KEY", "env-key")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel-env")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=blue")
    env_call()
    flush(receiver)
    span = receiver.by_name("env_call")
    assert span.resource["service.name"] == "from-otel-env"
    headers = {k.lower(): v for k, v in receiver.trace_requests()[0]["headers"].items()}
    assert headers["authorization"] == "Bearer env-key"
    assert headers["x-team"] == "blue"


def test_tokentrail_service_wins_over_otel_service_name(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("TOKENTRAIL_SERVICE", "tt-service")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "otel-service")
    env_call()
    assert flush(receiver).by_name("env_call").resource["service.name"] == "tt-service"


def test_bad_environment_values_warn_and_fall_back(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TOKENTRAIL_ENDPOINT", receiver.url)
    monkeypatch.setenv("TOKENTRAIL_SAMPLE_RATE", "lots")
    monkeypatch.setenv("TOKENTRAIL_CAPTURE_CONTENT", "perhaps")
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        env_call()
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "TOKENTRAIL_SAMPLE_RATE" in warned
    assert "TOKENTRAIL_CAPTURE_CONTENT" in warned
    attrs = flush(receiver).by_name("env_call").attributes
    assert attrs["output.value"] == "1"  # sample rate 1.0, content captured: the defaults


def test_bad_environment_endpoint_leaves_the_sdk_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TOKENTRAIL_ENDPOINT", "nonsense")
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        assert env_call() == 1
    assert "TOKENTRAIL_ENDPOINT" in caplog.text
    assert tokentrail.stats()["created"] == 0


def test_reconfigure_replaces_the_previous_setup(receiver: Receiver) -> None:
    tokentrail.configure(endpoint="http://127.0.0.1:9")
    tokentrail.configure(endpoint=receiver.url)
    env_call()
    assert len(flush(receiver).spans) == 1


def test_all_is_sorted_and_complete() -> None:
    assert tokentrail.__all__ == sorted(tokentrail.__all__)
    public = {n for n in vars(tokentrail) if not n.startswith("_")} - {"annotations"}
    assert public <= set(tokentrail.__all__)
    for name in tokentrail.__all__:
        assert hasattr(tokentrail, name)


def test_package_is_typed_and_modules_are_small_and_private() -> None:
    assert (PACKAGE / "py.typed").exists()
    for module in PACKAGE.glob("*.py"):
        assert module.name == "__init__.py" or module.name.startswith("_")
        assert len(module.read_text().splitlines()) < 420, module.name


def test_sdk_imports_no_provider_and_no_server_package() -> None:
    forbidden = {"openai", "anthropic", "google", "litellm", "core", "collector", "workers"}
    for module in PACKAGE.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, module.name


def test_public_functions_have_docstrings() -> None:
    for name in tokentrail.__all__:
        obj = getattr(tokentrail, name)
        if callable(obj):
            assert inspect.getdoc(obj), name


def test_stats_keep_the_final_counts_after_shutdown(receiver: Receiver) -> None:
    tokentrail.configure(endpoint=receiver.url)

    @tokentrail.observe
    def step() -> int:
        return 1

    for _ in range(3):
        step()
    tokentrail.shutdown(timeout=2)
    final = tokentrail.stats()
    assert final["created"] == 3
    assert final["exported"] + final["dropped"] + final["queued"] + final["spooled"] == 3


def test_the_standard_batch_processor_variables_size_the_queue_and_batches(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500")  # more than the queue: capped
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "250")
    config = resolve(endpoint="http://127.0.0.1:9")
    assert config is not None
    batching = (config.max_queue_spans, config.max_batch_spans, config.schedule_delay)
    assert batching == (100, 100, 0.25)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "-3")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many")
    with caplog.at_level(logging.WARNING, logger="tokentrail"):
        config = resolve(endpoint="http://127.0.0.1:9")
    assert config is not None
    assert (config.max_queue_spans, config.max_batch_spans) == (
        Config.max_queue_spans,
        Config.max_batch_spans,
    )
    assert "OTEL_BSP_MAX_QUEUE_SIZE" in caplog.text
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" in caplog.text
