"""Secrets and personal data never leave the process; a failing user mask fails closed."""

from __future__ import annotations

import json

import pytest
import tokentrail
from tokentrail._redact import redact_text

from tests.sdk.conftest import flush
from tests.sdk.receiver import Receiver


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("key sk-proj-abcdefghijklmnop1234", "[REDACTED:api_key]"),
        ("key sk-ant-api03-abcdefghij_KLMN", "[REDACTED:anthropic_key]"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "[REDACTED:aws_key]"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED:github_token]"),
        ("slack xoxb-123456789012-abcdefghijkl", "[REDACTED:slack_token]"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl", "[REDACTED:jwt]"),
        ("Authorization: Bearer abc.def-ghi_jkl", "Bearer [REDACTED]"),
        ("card 4111 1111 1111 1111 ok", "[REDACTED:card]"),
        ("card 4111-1111-1111-1111", "[REDACTED:card]"),
        ("mail jane.doe+x@example.co.uk now", "[REDACTED:email]"),
    ],
)
def test_secret_patterns_are_masked(text: str, marker: str) -> None:
    masked = redact_text(text)
    assert marker in masked
    assert "1111 1111" not in masked
    assert "example.co.uk" not in masked


def test_numbers_that_fail_luhn_are_kept() -> None:
    assert redact_text("order 4111 1111 1111 1112") == "order 4111 1111 1111 1112"


def test_arguments_are_redacted_before_export(sdk: Receiver) -> None:
    @tokentrail.observe(name="login")
    def login(user: str, password: str, options: dict[str, str]) -> str:
        return f"token for {user}: sk-live-0123456789abcdefghij"

    login(
        "jane@example.com",
        "hunter2",
        {"api_key": "plain-value", "Authorization": "x", "max_tokens": "5"},
    )
    attrs = flush(sdk).by_name("login").attributes
    sent = json.loads(attrs["input.value"])
    assert sent["user"] == "[REDACTED:email]"
    assert sent["password"] == "[REDACTED]"
    assert sent["options"] == {
        "api_key": "[REDACTED]",
        "Authorization": "[REDACTED]",
        "max_tokens": "5",
    }
    assert "sk-live" not in attrs["output.value"]


def test_exception_messages_are_redacted(sdk: Receiver) -> None:
    @tokentrail.observe(name="leaky")
    def leaky() -> None:
        raise RuntimeError("bad key sk-abcdefghijklmnopqrstuvwx")

    with pytest.raises(RuntimeError):
        leaky()
    span = flush(sdk).by_name("leaky")
    assert "sk-abc" not in span.events[0]["exception.message"]
    assert "sk-abc" not in span.status_message


def test_user_mask_is_applied_to_content(receiver: Receiver) -> None:
    tokentrail.configure(endpoint=receiver.url, mask=lambda text: text.replace("Acme", "[ORG]"))

    @tokentrail.observe(name="org")
    def org(name: str) -> str:
        return name

    org("Acme Corp")
    attrs = flush(receiver).by_name("org").attributes
    assert "Acme" not in attrs["input.value"]
    assert "[ORG]" in attrs["output.value"]


def test_failing_mask_drops_content_and_is_counted(receiver: Receiver) -> None:
    def broken(text: str) -> str:
        raise RuntimeError("mask bug")

    tokentrail.configure(endpoint=receiver.url, mask=broken)

    @tokentrail.observe(name="private")
    def private(value: str) -> str:
        return value

    private("very private")
    span = flush(receiver).by_name("private")
    assert "input.value" not in span.attributes
    assert "output.value" not in span.attributes
    assert span.attributes["tokentrail.content.dropped"] == "mask_error"
    assert tokentrail.stats()["mask_errors"] == 1
