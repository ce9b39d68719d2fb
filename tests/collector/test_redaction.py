"""Server-side redaction: the SDK's patterns on span content, per project, before storage."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from collector.redaction import RedactionPolicy, redact_text
from core.models import Project, Span
from core.settings import Settings
from tests.collector.conftest import (
    PROTOBUF,
    T0_NS,
    export_request,
    key_values,
    llm_attributes,
    make_span,
)

SECRETS = {
    "sk-proj-abcdefghijklmnop1234": "[REDACTED:api_key]",
    "sk-ant-api03-abcdefgh1234": "[REDACTED:anthropic_key]",
    "AKIAIOSFODNN7EXAMPLE": "[REDACTED:aws_key]",
    "ghp_abcdefghijklmnopqrstuvwx": "[REDACTED:github_token]",
    "xoxb-1234567890-abcdef": "[REDACTED:slack_token]",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl": "[REDACTED:jwt]",
    "jane.doe@example.co.uk": "[REDACTED:email]",
    "4111 1111 1111 1111": "[REDACTED:card]",
    "5500-0000-0000-0004": "[REDACTED:card]",
}


@pytest.mark.parametrize(("secret", "mask"), SECRETS.items())
def test_each_pattern_is_masked_inside_text(secret: str, mask: str) -> None:
    assert redact_text(f"before {secret} after") == f"before {mask} after"


def test_bearer_token_keeps_the_scheme() -> None:
    assert redact_text("Authorization: Bearer abc.def-123456") == "Authorization: Bearer [REDACTED]"


@pytest.mark.parametrize(
    "text",
    ["order 4111 1111 1111 1112", "call 0800 123 4567", "id 1234567890123", "sk-short", "a@b"],
)
def test_lookalikes_are_kept(text: str) -> None:
    """Digit runs that fail the Luhn check, short keys and non-addresses stay as they are."""
    assert redact_text(text) == text


def test_policy_has_a_default_and_per_project_overrides() -> None:
    policy = RedactionPolicy(default=True, by_project={7: False})
    assert (policy.enabled(1), policy.enabled(7)) == (True, False)
    off = RedactionPolicy.from_settings(Settings(redaction=False, redaction_by_project={3: True}))
    assert (off.enabled(1), off.enabled(3)) == (False, True)


def _secret_span() -> bytes:
    messages = json.dumps([{"role": "user", "content": "my key is sk-proj-abcdefghijklmnop1234"}])
    span = make_span(
        attributes=llm_attributes(
            **{
                "gen_ai.input.messages": messages,
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "content": "mail jane@example.com"}]
                ),
                "llm.input_messages.0.message.content": "card 4111111111111111",
                "user.id": "jane@example.com",
                "gen_ai.request.model": "gpt-4o-mini",
            }
        ),
        status={"code": 2, "message": "bad key sk-proj-abcdefghijklmnop1234"},
    )
    return export_request(span).SerializeToString()


def _stored(factory: sessionmaker[Session]) -> Span:
    with factory() as session:
        return session.scalars(select(Span)).one()


def test_span_content_is_redacted_before_storage(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    assert client.post("/v1/traces", content=_secret_span(), headers=PROTOBUF).status_code == 200
    span = _stored(session_factory)
    assert span.input[0]["parts"][0]["content"] == "my key is [REDACTED:api_key]"
    assert span.input_text == "my key is [REDACTED:api_key]"
    assert span.output_text == "mail [REDACTED:email]"
    assert "sk-proj" not in span.attributes["gen_ai.input.messages"]
    assert span.attributes["llm.input_messages.0.message.content"] == "card [REDACTED:card]"
    assert span.error_message == "bad key [REDACTED:api_key]"


def test_identities_and_models_are_not_content(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """An email used as a user id is an identity: masking it would merge every user."""
    client.post("/v1/traces", content=_secret_span(), headers=PROTOBUF)
    span = _stored(session_factory)
    assert span.user_id == "jane@example.com"
    assert span.attributes["user.id"] == "jane@example.com"
    assert span.request_model == "gpt-4o-mini"


def test_content_event_attributes_are_redacted(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    event = OtlpSpan.Event(
        name="gen_ai.content.prompt",
        time_unix_nano=T0_NS,
        attributes=key_values({"gen_ai.prompt": "token ghp_abcdefghijklmnopqrstuvwx"}),
    )
    span = make_span(attributes=llm_attributes(), events=[event])
    client.post("/v1/traces", content=export_request(span).SerializeToString(), headers=PROTOBUF)
    stored = _stored(session_factory)
    assert stored.events[0]["attributes"]["gen_ai.prompt"] == "token [REDACTED:github_token]"
    assert stored.input_text == "token [REDACTED:github_token]"


@pytest.fixture
def lenient_client(settings: Settings, project: Project, api_key: str) -> Iterator[TestClient]:
    """A collector whose policy turns redaction off for this one project."""
    app = create_app(settings.model_copy(update={"redaction_by_project": {project.id: False}}))
    with TestClient(app, headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client
    app.state.engine.dispose()


def test_a_project_can_turn_redaction_off(
    lenient_client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    response = lenient_client.post("/v1/traces", content=_secret_span(), headers=PROTOBUF)
    assert response.status_code == 200
    span = _stored(session_factory)
    assert span.input_text == "my key is sk-proj-abcdefghijklmnop1234"
    assert span.output_text == "mail jane@example.com"
