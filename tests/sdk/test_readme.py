"""The README's "Instrument your app" works exactly as written: its exports and its program, run
as they stand, against the stub collector (and a stub OpenAI, the only fake: a true external
boundary)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tokentrail

from tests.sdk.providers import ProviderStub
from tests.sdk.receiver import Receiver

pytest.importorskip("openai")

README = Path(__file__).resolve().parents[2] / "sdk" / "README.md"
SDK_SRC = str(Path(tokentrail.__file__).resolve().parents[1])


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def blocks(text: str, language: str) -> list[str]:
    return [
        re.sub(r"^ {3}", "", block, flags=re.MULTILINE)
        for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)
    ]


@pytest.fixture
def provider() -> Iterator[ProviderStub]:
    stub = ProviderStub().start()
    yield stub
    stub.stop()


def test_instrument_your_app_runs_as_written(
    receiver: Receiver, provider: ProviderStub, tmp_path: Path
) -> None:
    text = section("Instrument your app")
    shell, program = blocks(text, "bash"), blocks(text, "python")
    assert shell[0].strip() == "pip install ./sdk"  # done by sdk/scripts/test_isolated.sh
    exports = dict(
        shlex.split(line)[1].split("=", 1)
        for line in shell[1].splitlines()
        if line.startswith("export ")
    )
    assert exports["TOKENTRAIL_ENDPOINT"] == "http://127.0.0.1:4318"
    exports["TOKENTRAIL_ENDPOINT"] = receiver.url  # our stub stands where `tokentrail up` would
    (script,) = program
    app = tmp_path / "app.py"
    app.write_text(script)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TOKENTRAIL_", "OTEL_"))},
        **exports,
        "OPENAI_API_KEY": "sk-test-not-real",
        "OPENAI_BASE_URL": f"{provider.url}/v1",
        "PYTHONPATH": SDK_SRC,
    }
    result = subprocess.run(
        [sys.executable, str(app)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello there"

    chain, llm = receiver.by_name("answer"), receiver.by_name("complete")
    assert llm.parent_span_id == chain.span_id
    assert llm.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "How do I reset my password?" in llm.attributes["gen_ai.input.messages"]
    assert llm.attributes["gen_ai.usage.input_tokens"] == 12
    for span in (chain, llm):
        assert span.resource["service.name"] == "support-bot"
        assert span.attributes["user.id"] == "u-42"
        assert span.attributes["session.id"] == "chat-7"
        assert span.attributes["tokentrail.team"] == "support"
        assert span.attributes["tokentrail.feature"] == "faq"
    auth = {k.lower(): v for k, v in receiver.trace_requests()[0]["headers"].items()}
    assert auth["authorization"] == "Bearer tt_your_project_key"
