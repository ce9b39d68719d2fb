"""Webhooks: where a project's alerts are sent. URLs are checked when saved (and again on every
delivery, by :mod:`core.alert_delivery`): private, loopback and link-local addresses are refused.

A webhook URL is often a secret itself (a Slack incoming-webhook URL is its own credential), so
only admins read it and logs never carry it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models_governance import AlertDelivery, Webhook
from core.outbound import check_url

MAX_URL_CHARS = 2_000


class WebhookIn(BaseModel):
    """A webhook as a client writes it."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1, max_length=MAX_URL_CHARS, examples=["https://hooks.slack.com/services/…"]
    )
    name: str = Field(default="", max_length=200, examples=["#finance-alerts"])
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="Signs each body: X-TokenTrail-Signature = sha256=HMAC(secret, "
        "timestamp + '.' + body), with X-TokenTrail-Timestamp. Never shown again.",
    )
    enabled: bool = True

    @field_validator("url", "name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()


class WebhookOut(BaseModel):
    """A stored webhook; the secret is never shown, only whether there is one."""

    id: int
    name: str
    url: str
    enabled: bool
    has_secret: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Webhook) -> WebhookOut:
        return cls(
            id=row.id, name=row.name, url=row.url, enabled=row.enabled,
            has_secret=bool(row.secret), created_at=row.created_at, updated_at=row.updated_at,
        )  # fmt: skip


class DeliveryOut(BaseModel):
    """One alert's delivery to one webhook."""

    model_config = ConfigDict(from_attributes=True)

    alert_id: int
    webhook_id: int
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


def list_webhooks(session: Session, project_id: int) -> list[Webhook]:
    query = select(Webhook).where(Webhook.project_id == project_id).order_by(Webhook.id)
    return list(session.scalars(query))


def get_webhook(session: Session, project_id: int, webhook_id: int) -> Webhook:
    """One webhook of the project; another project's id is simply not found."""
    row = session.get(Webhook, (project_id, webhook_id))
    if row is None:
        raise NotFoundError(f"no webhook {webhook_id}")
    return row


def create_webhook(
    session: Session, project_id: int, data: WebhookIn, *, allow_loopback: bool = False
) -> Webhook:
    """Store a webhook after checking its URL (OutboundURLError, a 400, when refused).

    It receives the alerts raised from now on, not older ones.
    """
    check_url(data.url, allow_loopback=allow_loopback)
    row = Webhook(project_id=project_id, name=data.name, url=data.url, secret=data.secret,
                  enabled=data.enabled)  # fmt: skip
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def update_webhook(
    session: Session,
    project_id: int,
    webhook_id: int,
    data: WebhookIn,
    *,
    allow_loopback: bool = False,
    keep_secret: bool = True,
) -> Webhook:
    """Replace a webhook; with ``keep_secret`` an omitted secret keeps the stored one."""
    row = get_webhook(session, project_id, webhook_id)
    check_url(data.url, allow_loopback=allow_loopback)
    row.name, row.url, row.enabled = data.name, data.url, data.enabled
    if data.secret is not None or not keep_secret:
        row.secret = data.secret
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def set_enabled(
    session: Session,
    project_id: int,
    webhook_id: int,
    enabled: bool,
    *,
    allow_loopback: bool = False,
) -> Webhook:
    """Pause or resume a webhook; resuming checks its URL again, pausing never fails."""
    row = get_webhook(session, project_id, webhook_id)
    if enabled:
        check_url(row.url, allow_loopback=allow_loopback)
    row.enabled = enabled
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def delete_webhook(session: Session, project_id: int, webhook_id: int) -> None:
    """Delete a webhook and its pending deliveries."""
    session.delete(get_webhook(session, project_id, webhook_id))
    session.flush()


def list_deliveries(
    session: Session,
    project_id: int,
    *,
    webhook_id: int | None = None,
    alert_id: int | None = None,
    limit: int = 100,
) -> list[AlertDelivery]:
    """Deliveries of the project, newest first, optionally of one webhook or one alert."""
    query = select(AlertDelivery).where(AlertDelivery.project_id == project_id)
    if webhook_id is not None:
        get_webhook(session, project_id, webhook_id)
        query = query.where(AlertDelivery.webhook_id == webhook_id)
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    query = query.order_by(AlertDelivery.created_at.desc(), AlertDelivery.alert_id.desc())
    return list(session.scalars(query.limit(limit)))
