"""The thin real path: SDK in a subprocess → collector on loopback → PostgreSQL → a real
worker scores it → the dashboard's trace page shows it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core.models import Score, Span
from tests.processes import ROOT, celery_worker, collector_process, service_env, wait_until

APP = textwrap.dedent(
    """
    import tokentrail

    @tokentrail.observe(name="chat gpt-4o-mini", kind="llm")
    def ask(messages):
        return {
            "id": "chatcmpl-e2e", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Paris is the capital."}}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250,
                      "prompt_tokens_details": {"cached_tokens": 200}},
        }

    @tokentrail.observe
    def handle_question(question):
        return ask([{"role": "user", "content": question}])["choices"][0]["message"]["content"]

    with tokentrail.context(user_id="e2e-user", feature="geography", team="search"):
        print(handle_question("What is the capital of France?"))
    tokentrail.shutdown(timeout=5)
    """
)


def _llm_span(factory: sessionmaker[Session]) -> Span | None:
    with factory() as session:
        return session.scalars(select(Span).where(Span.kind == "llm")).first()


def _scores(factory: sessionmaker[Session]) -> dict[str, float | None]:
    with factory() as session:
        return dict(session.execute(select(Score.name, Score.value)).all())  # type: ignore[arg-type]


def test_sdk_span_is_stored_priced_scored_and_shown(
    database_url: str,
    session_factory: sessionmaker[Session],
    api_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    with (
        collector_process(database_url) as endpoint,
        celery_worker(database_url, beat=True, TOKENTRAIL_SCORE_INTERVAL_S="1"),
    ):
        env = service_env(database_url, TOKENTRAIL_ENDPOINT=endpoint, TOKENTRAIL_API_KEY=api_key)
        run = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "Paris is the capital."

        wait_until(lambda: _llm_span(session_factory) is not None, 30, "the LLM span in Postgres")
        wait_until(lambda: {"complete_output", "no_refusal"} <= _scores(session_factory).keys(),
                   60, "the worker's scores")  # fmt: skip

    span = _llm_span(session_factory)
    assert span is not None
    assert (span.provider, span.response_model, span.name) == (
        "openai",
        "gpt-4o-mini",
        "chat gpt-4o-mini",
    )
    assert (span.input_tokens, span.cache_read_tokens, span.output_tokens) == (1200, 200, 50)
    assert (span.user_id, span.feature, span.team) == ("e2e-user", "geography", "search")
    assert span.parent_span_id is not None
    # gpt-4o-mini per million tokens: $0.15 input, $0.075 cached input, $0.60 output.
    expected = (1000 * Decimal("0.15") + 200 * Decimal("0.075") + 50 * Decimal("0.60")) / 10**6
    assert span.cost == expected
    assert span.cost_source == "computed"
    scores = _scores(session_factory)
    assert scores["complete_output"] == scores["no_refusal"] == 1.0  # a full, helpful answer
    assert all(value is not None and 0.0 <= value <= 1.0 for value in scores.values())

    monkeypatch.setenv("TOKENTRAIL_DATABASE_URL", database_url)
    page = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=30)
    page.run()
    page.query_params["trace_id"] = span.trace_id
    page.switch_page("views/trace_detail.py").run()
    assert not page.exception
    shown = " ".join(str(e.value) for e in page.get("text")) + " ".join(
        str(m.value) for m in page.markdown
    )
    assert "Paris is the capital." in shown
    assert "gpt-4o-mini" in shown
