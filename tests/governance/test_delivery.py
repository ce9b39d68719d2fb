"""Alert delivery: retries with backoff, attempts recorded, once per webhook with many workers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.alert_delivery import DeliveryPolicy, claim_deliveries, deliver_pending
from core.alerts import raise_alert
from core.models import Project
from core.models_governance import Alert, AlertDelivery
from core.webhooks import WebhookIn, create_webhook
from tests.governance.conftest import Receiver

FAST = DeliveryPolicy(timeout_s=2, retry_base_s=0.05, max_attempts=4, allow_loopback=True)


def hook(factory: sessionmaker[Session], project_id: int, url: str, secret: str | None = None
         ) -> int:  # fmt: skip
    with factory.begin() as session:
        data = WebhookIn(url=url, secret=secret)
        return create_webhook(session, project_id, data, allow_loopback=True).id


def alert(factory: sessionmaker[Session], project_id: int, key: str, kind: str = "budget",
          title: str = "Budget passed 80 %") -> int:  # fmt: skip
    with factory.begin() as session:
        new = raise_alert(session, project_id=project_id, kind=kind, severity="warning",
                          title=title, body="$8 of $10", dedup_key=key)  # fmt: skip
    assert new is not None
    return new


def deliveries(factory: sessionmaker[Session]) -> list[AlertDelivery]:
    with factory() as session:
        return list(session.scalars(select(AlertDelivery).order_by(AlertDelivery.alert_id)))


def run_until_settled(factory: sessionmaker[Session], policy: DeliveryPolicy = FAST) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        deliver_pending(factory, policy)
        if all(d.status != "pending" for d in deliveries(factory)):
            return
        time.sleep(0.05)
    raise AssertionError("deliveries still pending")


def test_failing_twice_then_succeeding_is_one_delivery_of_three_attempts(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    receiver.plan = [503, 500]
    hook(session_factory, project.id, receiver.url)
    alert(session_factory, project.id, "k1")
    run_until_settled(session_factory)
    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)
    assert delivery.delivered_at is not None
    assert receiver.received() == 3
    assert len(set(receiver.bodies)) == 1, "every attempt sends the same message"


def test_the_message_is_slack_compatible_and_escaped(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    hook(session_factory, project.id, receiver.url)
    alert(session_factory, project.id, "k1", title="Budget <!channel> & <http://x|y> passed")
    run_until_settled(session_factory)
    message = json.loads(receiver.bodies[0])
    assert message["text"].endswith("Budget &lt;!channel&gt; &amp; &lt;http://x|y&gt; passed")
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context"]
    assert message["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": "Budget <!channel> & <http://x|y> passed",
    }
    assert message["tokentrail"]["kind"] == "budget"
    assert receiver.headers[0]["content-type"] == "application/json"


def test_a_secret_signs_each_body(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    secret = "s3cret-s3cret-s3cret"
    hook(session_factory, project.id, receiver.url, secret=secret)
    alert(session_factory, project.id, "k1")
    run_until_settled(session_factory)
    headers, body = receiver.headers[0], receiver.bodies[0]
    signed = headers["x-tokentrail-timestamp"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["x-tokentrail-signature"] == f"sha256={expected}"


def test_a_client_error_is_final_and_retries_stop_at_the_limit(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    receiver.plan = [404] + [503] * 10
    hook(session_factory, project.id, receiver.url)
    alert(session_factory, project.id, "gone")
    run_until_settled(session_factory)
    alert(session_factory, project.id, "flaky")
    run_until_settled(session_factory)
    gone, flaky = deliveries(session_factory)
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "HTTP 404")
    assert (flaky.status, flaky.attempts, flaky.last_error) == ("failed", 4, "HTTP 503")
    assert receiver.received() == 5


def test_backoff_doubles_from_the_base() -> None:
    policy = DeliveryPolicy(retry_base_s=30)
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert policy.backoff(20) == timedelta(hours=1)


def test_every_kind_of_alert_is_delivered_once_per_webhook_with_several_workers(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    hook(session_factory, project.id, receiver.url)
    hook(session_factory, project.id, receiver.url.replace("/hook", "/second"))
    for n in range(15):
        alert(session_factory, project.id, f"k{n}", kind=("budget", "anomaly", "drift")[n % 3])
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(3):
            deliver_pending(session_factory, FAST)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert receiver.received() == 30
    sent = {(json.loads(b)["tokentrail"]["alert_id"]) for b in receiver.bodies}
    assert len(sent) == 15
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(session_factory))


def test_alerts_older_than_the_webhook_and_disabled_webhooks_get_nothing(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    alert(session_factory, project.id, "before")
    with session_factory.begin() as session:  # the alert predates the webhook
        session.execute(update(Alert).values(created_at=datetime.now(UTC) - timedelta(minutes=5)))
    hook(session_factory, project.id, receiver.url)
    with session_factory.begin() as session:
        data = WebhookIn(url=receiver.url, enabled=False)
        create_webhook(session, project.id, data, allow_loopback=True)
    alert(session_factory, project.id, "after")
    run_until_settled(session_factory)
    assert [json.loads(b)["tokentrail"]["title"] for b in receiver.bodies] == ["Budget passed 80 %"]
    assert len(deliveries(session_factory)) == 1


def test_a_delivery_whose_worker_died_is_retried_after_its_lease(
    session_factory: sessionmaker[Session], project: Project, receiver: Receiver
) -> None:
    hook(session_factory, project.id, receiver.url)
    alert(session_factory, project.id, "k1")
    deliver_pending(session_factory, DeliveryPolicy(allow_loopback=True, batch=0))  # enqueue only
    with session_factory.begin() as session:
        (claim,) = claim_deliveries(session, datetime.now(UTC), FAST)  # ... and the worker dies
    assert deliver_pending(session_factory, FAST)["delivered"] == 0, "leased: nobody else sends"
    later = datetime.now(UTC) + FAST.lease + timedelta(seconds=1)
    assert deliver_pending(session_factory, FAST, clock=lambda: later)["delivered"] == 1
    (delivery,) = deliveries(session_factory)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert claim.attempt == 1
