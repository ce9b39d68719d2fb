"""Alert delivery to webhooks: at least once per (alert, webhook), never twice by two workers.

Every alert, whoever raised it (budgets, anomalies, drift), gets a delivery row per enabled
webhook of its project that existed when it was raised (:func:`enqueue_deliveries`). A run
claims due rows with ``FOR UPDATE SKIP LOCKED`` and leases them (``next_attempt_at`` moves past
the send's timeout) in a short transaction, POSTs outside any transaction, then records the
outcome. So several workers never send the same row, a slow receiver holds no database
connection, and a worker that dies mid-send leaves a row another retries once its lease ends.
Failures back off exponentially until ``max_attempts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, select, text
from sqlalchemy.orm import Session, sessionmaker

from core.models import Project
from core.models_governance import Alert, AlertDelivery, Webhook
from core.outbound import OutboundURLError, post_bytes

logger = logging.getLogger(__name__)

#: Alerts older than this when a run first sees them are not sent (a webhook added today does
#: not receive last month's alerts; a worker down for longer does not flood a channel).
ENQUEUE_WINDOW = timedelta(days=2)
MAX_BACKOFF = timedelta(hours=1)
#: Statuses worth retrying; any other non-2xx answer is final (the request itself is wrong).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
SEVERITY_MARK = {"critical": ":red_circle:", "warning": ":large_orange_circle:",
                 "info": ":large_blue_circle:"}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """A delivery leased to this run: where to send what."""

    project_id: int
    alert_id: int
    webhook_id: int
    attempt: int
    url: str
    secret: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry: bool
    status: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout_s: float = 10.0
    retry_base_s: float = 30.0
    max_attempts: int = 8
    allow_loopback: bool = False
    batch: int = 50
    #: A run stops claiming after this long; the next run (seconds later) carries on.
    run_budget_s: float = 60.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_s * 3 + 30)

    def backoff(self, attempt: int) -> timedelta:
        """The wait after failed attempt ``attempt`` (1-based): base, 2×base, 4×base, …"""
        return min(timedelta(seconds=self.retry_base_s * 2 ** (attempt - 1)), MAX_BACKOFF)


def enqueue_deliveries(session: Session, now: datetime) -> int:
    """Create the missing delivery rows of recent alerts; how many were created."""
    result = session.execute(
        text(
            "INSERT INTO alert_deliveries (project_id, alert_id, webhook_id, next_attempt_at) "
            "SELECT a.project_id, a.id, w.id, :now FROM webhooks w "
            "JOIN alerts a ON a.project_id = w.project_id AND a.created_at >= w.created_at "
            "AND a.created_at >= :since WHERE w.enabled "
            "ON CONFLICT DO NOTHING"
        ),
        {"now": now, "since": now - ENQUEUE_WINDOW},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _mrkdwn(value: str) -> str:
    """Text for Slack mrkdwn: ``&<>`` escaped, so names cannot form links or @-mentions."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert, project_name: str) -> dict[str, Any]:
    """A Slack-compatible message (``text`` + ``blocks``) with the alert as data beside it."""
    mark = SEVERITY_MARK.get(alert.severity, "")
    when = alert.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    context = f"{alert.kind} · {alert.severity} · project {project_name} · {when} · #{alert.id}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.title[:150]}},
    ]
    if alert.body:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _mrkdwn(alert.body)[:3000]}})  # fmt: skip
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)[:3000]}]})  # fmt: skip
    return {
        "text": f"{mark} {_mrkdwn(alert.title)}".strip(),
        "blocks": blocks,
        "tokentrail": {
            "alert_id": alert.id, "project": project_name, "kind": alert.kind,
            "severity": alert.severity, "title": alert.title, "body": alert.body,
            "details": alert.details, "created_at": alert.created_at.isoformat(),
        },
    }  # fmt: skip


def claim_deliveries(session: Session, now: datetime, policy: DeliveryPolicy) -> list[Claim]:
    """Lease up to ``policy.batch`` due deliveries (commit the session to hand them over)."""
    rows = session.execute(
        select(AlertDelivery, Alert, Webhook, Project.name)
        .join(Alert, and_(Alert.project_id == AlertDelivery.project_id,
                          Alert.id == AlertDelivery.alert_id))
        .join(Webhook, and_(Webhook.project_id == AlertDelivery.project_id,
                            Webhook.id == AlertDelivery.webhook_id))
        .join(Project, Project.id == AlertDelivery.project_id)
        .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
        .order_by(AlertDelivery.next_attempt_at)
        .limit(policy.batch)
        .with_for_update(of=AlertDelivery, skip_locked=True)
    ).all()  # fmt: skip
    claims = []
    for delivery, alert, webhook, project_name in rows:
        delivery.attempts += 1
        delivery.next_attempt_at = now + policy.lease
        claims.append(Claim(delivery.project_id, delivery.alert_id, delivery.webhook_id,
                            delivery.attempts, webhook.url, webhook.secret,
                            slack_payload(alert, project_name)))  # fmt: skip
    session.flush()
    return claims


def signature_headers(secret: str | None, body: bytes, timestamp: int) -> dict[str, str]:
    """``X-TokenTrail-Timestamp`` and ``X-TokenTrail-Signature`` (HMAC-SHA256 of
    ``timestamp.body``), so a receiver can verify the sender and refuse replays."""
    if not secret:
        return {}
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return {"X-TokenTrail-Timestamp": str(timestamp),
            "X-TokenTrail-Signature": f"sha256={digest.hexdigest()}"}  # fmt: skip


def send(claim: Claim, policy: DeliveryPolicy, now: datetime) -> Outcome:
    """POST one claimed delivery; never raises for anything the receiver or network does."""
    body = json.dumps(claim.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "TokenTrail-Webhooks",
               **signature_headers(claim.secret, body, int(now.timestamp()))}  # fmt: skip
    try:
        response = post_bytes(claim.url, body, timeout_s=policy.timeout_s, headers=headers,
                              allow_loopback=policy.allow_loopback)  # fmt: skip
    except OutboundURLError as exc:
        return Outcome(False, False, None, f"refused: {exc}")
    except httpx.HTTPError as exc:
        # Never str(exc): httpx puts the URL (a secret for Slack) into its messages.
        return Outcome(False, True, None, type(exc).__name__)
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, False, status, None)
    return Outcome(False, status in RETRY_STATUSES, status, f"HTTP {status}")


def record(session: Session, claim: Claim, outcome: Outcome, now: datetime,
           policy: DeliveryPolicy) -> str:  # fmt: skip
    """Store the outcome of a claimed attempt; the delivery's new status."""
    delivery = session.get_one(
        AlertDelivery, (claim.project_id, claim.alert_id, claim.webhook_id),
        with_for_update=True,
    )  # fmt: skip
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    if outcome.delivered:
        delivery.status, delivery.delivered_at = "delivered", now
    elif outcome.retry and claim.attempt < policy.max_attempts:
        delivery.next_attempt_at = now + policy.backoff(claim.attempt)
    else:
        delivery.status = "failed"
    session.flush()
    return delivery.status


def deliver_pending(
    factory: sessionmaker[Session],
    policy: DeliveryPolicy,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, int]:
    """Enqueue new alerts, then send every due delivery once; counts by resulting status."""
    with factory.begin() as session:
        enqueued = enqueue_deliveries(session, clock())
    counts = {"enqueued": enqueued, "delivered": 0, "pending": 0, "failed": 0}
    deadline = time.monotonic() + policy.run_budget_s
    while time.monotonic() < deadline:
        with factory.begin() as session:
            claims = claim_deliveries(session, clock(), policy)
        for claim in claims:
            outcome = send(claim, policy, clock())
            with factory.begin() as session:
                status = record(session, claim, outcome, clock(), policy)
            counts[status] += 1
            if status != "delivered":
                logger.warning("alert %s to webhook %s: attempt %s %s (%s)", claim.alert_id,
                               claim.webhook_id, claim.attempt, status, outcome.error)  # fmt: skip
        if not claims or len(claims) < policy.batch:
            break
    return counts
