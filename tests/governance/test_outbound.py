"""Outbound URLs (webhooks): private, loopback and link-local targets are refused when a webhook
is saved and again when an alert is sent, including names that resolve (or re-resolve) there.

DNS is the one thing faked here (``socket.getaddrinfo``), since the tests have no network.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from collector.app import create_app
from core import keys
from core.alert_delivery import DeliveryPolicy, deliver_pending
from core.alerts import raise_alert
from core.models import Project
from core.models_governance import AlertDelivery
from core.outbound import OutboundURLError, check_url, post_json
from core.settings import Settings
from core.webhooks import WebhookIn, create_webhook
from tests.conftest import PEPPER
from tests.governance.conftest import Receiver

PUBLIC = "93.184.215.14"
REFUSED = [
    "http://127.0.0.1/hook", "http://127.1/hook", "http://2130706433/hook", "http://0x7f000001/",
    "http://localhost:8080/hook", "http://[::1]/hook", "http://0.0.0.0/", "http://[::]/",
    "http://10.0.0.5/hook", "http://172.16.3.4/", "http://192.168.1.10/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/",
    "http://224.0.0.1/", "http://255.255.255.255/",
]  # fmt: skip
MALFORMED = ["ftp://93.184.215.14/x", "file:///etc/passwd", "http:///nohost", "not a url",
             f"http://user:pw@{PUBLIC}/", "http://[::1/", "http://example.invalid/"]  # fmt: skip


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the given names to the given addresses; other names resolve normally."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            asked.append(host)
            family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
            return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_link_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(OutboundURLError):
        check_url(url)


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundURLError):
        check_url(url)


def test_a_public_address_is_allowed() -> None:
    assert check_url(f"https://{PUBLIC}/hook").address == PUBLIC


@pytest.mark.parametrize(
    "answers", [["10.1.2.3"], ["169.254.169.254"], ["127.0.0.1"], ["::ffff:192.168.0.1"],
                [PUBLIC, "10.0.0.7"]],
)  # fmt: skip
def test_names_resolving_to_a_private_address_are_refused(
    monkeypatch: pytest.MonkeyPatch, answers: list[str]
) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": answers})
    with pytest.raises(OutboundURLError, match=r"hooks\.example\.com"):
        check_url("https://hooks.example.com/x")


@pytest.mark.parametrize("url", ["http://10.0.0.5/", "http://169.254.169.254/", "http://[fe80::1]/",
                                 "http://[::ffff:10.0.0.1]/", "http://192.168.1.1/"])  # fmt: skip
def test_allowing_loopback_still_refuses_private_and_link_local(url: str) -> None:
    assert check_url("http://127.0.0.1:9/x", allow_loopback=True).address == "127.0.0.1"
    with pytest.raises(OutboundURLError):
        check_url(url, allow_loopback=True)


@pytest.fixture
def admin(settings: Settings, project: Project, session_factory: sessionmaker[Session]
          ) -> Iterator[Callable[[bool], TestClient]]:  # fmt: skip
    with session_factory.begin() as session:
        secret = keys.create_key(session, project, ("admin",), PEPPER).secret
    apps: list[FastAPI] = []
    clients: list[TestClient] = []

    def client(allow_loopback: bool) -> TestClient:
        app = create_app(settings.model_copy(update={"outbound_allow_loopback": allow_loopback}))
        apps.append(app)
        clients.append(TestClient(app, headers={"Authorization": f"Bearer {secret}"}))
        return clients[-1].__enter__()

    yield client
    for c in clients:
        c.__exit__(None, None, None)
    for app in apps:
        app.state.engine.dispose()


@pytest.mark.parametrize("url", [*REFUSED[:8], "http://10.0.0.5/", "http://169.254.169.254/"])
def test_saving_a_webhook_to_a_refused_address_answers_400(
    admin: Callable[[bool], TestClient], url: str
) -> None:
    client = admin(False)
    response = client.post("/api/v1/webhooks", json={"url": url})
    assert response.status_code == 400, response.text
    assert client.get("/api/v1/webhooks").json() == []


def test_the_loopback_setting_admits_loopback_only(admin: Callable[[bool], TestClient]) -> None:
    client = admin(True)
    assert client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h"}).status_code == 201
    for url in ("http://10.0.0.5/", "http://169.254.169.254/", "http://[::ffff:10.1.1.1]/"):
        assert client.post("/api/v1/webhooks", json={"url": url}).status_code == 400


def test_a_name_rebound_to_loopback_after_saving_is_refused_at_connect_time(
    monkeypatch: pytest.MonkeyPatch, session_factory: sessionmaker[Session], project: Project,
    receiver: Receiver,
) -> None:  # fmt: skip
    port = receiver.url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC]})
    with session_factory.begin() as session:
        create_webhook(session, project.id, WebhookIn(url=f"http://hooks.example.com:{port}/h"))
        raise_alert(session, project_id=project.id, kind="drift", severity="warning",
                    title="drift", dedup_key="d1")  # fmt: skip
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})  # DNS rebinding
    counts = deliver_pending(session_factory, DeliveryPolicy(timeout_s=2))
    assert counts["failed"] == 1
    assert receiver.received() == 0
    with session_factory() as session:
        (delivery,) = session.query(AlertDelivery).all()
    assert delivery.status == "failed"
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("refused")


def test_the_request_goes_to_the_checked_address_with_the_original_host(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    asked = fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    response = post_json(f"http://hooks.example.com:{port}/h", {"text": "hi"},
                         allow_loopback=True)  # fmt: skip
    assert response.status_code == 200
    assert asked == ["hooks.example.com"], "resolved once: the connection uses that answer"
    assert receiver.headers[0]["host"] == f"hooks.example.com:{port}"
    assert receiver.bodies == [b'{"text":"hi"}']
