"""``/api/v1/alerts`` (read with ``read``, acknowledge with ``admin``) and ``/api/v1/webhooks``
(``admin`` only: a webhook URL is often a credential, e.g. a Slack incoming-webhook URL).

Webhook URLs are checked when saved — a private, loopback or link-local address answers 400 —
and again when each alert is sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from collector.deps import Admin, FactoryDep, SettingsDep, requires
from core import alerts, webhooks
from core.alerts import AlertOut
from core.keys import Principal
from core.webhooks import DeliveryOut, WebhookIn, WebhookOut

router = APIRouter(prefix="/api/v1")
AlertReader = Annotated[Principal, Depends(requires("read", "admin"))]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Responses = dict[int | str, dict[str, Any]]
ALERT_404: Responses = {404: {"description": "No such alert in this project"}}
HOOK_404: Responses = {404: {"description": "No such webhook in this project"}}


def _actor(principal: Principal) -> str:
    return f"api-key:{principal.key_id}"


@router.get("/alerts", tags=["alerts"], summary="The project's alerts, newest first")
async def list_alerts(
    principal: AlertReader,
    factory: FactoryDep,
    kind: Annotated[list[str] | None, Query(max_length=10, description="Any of these kinds "
                                            "(budget, anomaly, drift, …)")] = None,
    open: Annotated[bool | None, Query(description="true: unacknowledged only")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:  # fmt: skip
    kinds = [k for k in kind or () if k]

    def read() -> list[AlertOut]:
        with factory() as session:
            rows = alerts.list_alerts(session, principal.project_id, kinds=kinds or None,
                                      open_only=bool(open), limit=limit)  # fmt: skip
            return [AlertOut.model_validate(a) for a in rows]

    return await run_in_threadpool(read)


@router.post(
    "/alerts/{alert_id}/ack", tags=["alerts"], summary="Acknowledge an alert", responses=ALERT_404
)
async def acknowledge_alert(alert_id: Id, principal: Admin, factory: FactoryDep) -> AlertOut:
    """The first acknowledgement wins; acknowledging again changes nothing."""

    def write() -> AlertOut:
        with factory.begin() as session:
            row = alerts.acknowledge(session, principal.project_id, alert_id, _actor(principal))
            return AlertOut.model_validate(row)

    return await run_in_threadpool(write)


@router.get("/webhooks", tags=["webhooks"], summary="The project's webhooks")
async def list_webhooks(principal: Admin, factory: FactoryDep) -> list[WebhookOut]:
    def read() -> list[WebhookOut]:
        with factory() as session:
            return [WebhookOut.of(w) for w in webhooks.list_webhooks(session, principal.project_id)]

    return await run_in_threadpool(read)


@router.post("/webhooks", status_code=201, tags=["webhooks"], summary="Add a webhook")
async def create_webhook(
    data: WebhookIn, principal: Admin, factory: FactoryDep, settings: SettingsDep
) -> WebhookOut:
    """It receives every alert raised from now on (Slack-compatible JSON)."""

    def write() -> WebhookOut:
        with factory.begin() as session:
            row = webhooks.create_webhook(
                session, principal.project_id, data, allow_loopback=settings.outbound_allow_loopback
            )
            return WebhookOut.of(row)

    return await run_in_threadpool(write)


@router.get("/webhooks/{webhook_id}", tags=["webhooks"], summary="One webhook",
            responses=HOOK_404)  # fmt: skip
async def get_webhook(webhook_id: Id, principal: Admin, factory: FactoryDep) -> WebhookOut:
    def read() -> WebhookOut:
        with factory() as session:
            return WebhookOut.of(webhooks.get_webhook(session, principal.project_id, webhook_id))

    return await run_in_threadpool(read)


@router.put("/webhooks/{webhook_id}", tags=["webhooks"], summary="Replace a webhook",
            responses=HOOK_404)  # fmt: skip
async def update_webhook(
    webhook_id: Id, data: WebhookIn, principal: Admin, factory: FactoryDep, settings: SettingsDep
) -> WebhookOut:
    """An omitted ``secret`` keeps the stored one."""

    def write() -> WebhookOut:
        with factory.begin() as session:
            loopback = settings.outbound_allow_loopback
            row = webhooks.update_webhook(
                session, principal.project_id, webhook_id, data, allow_loopback=loopback
            )
            return WebhookOut.of(row)

    return await run_in_threadpool(write)


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"],
               summary="Delete a webhook", responses=HOOK_404)  # fmt: skip
async def delete_webhook(webhook_id: Id, principal: Admin, factory: FactoryDep) -> Response:
    def write() -> None:
        with factory.begin() as session:
            webhooks.delete_webhook(session, principal.project_id, webhook_id)

    await run_in_threadpool(write)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", tags=["webhooks"],
            summary="Recent deliveries to a webhook: attempts, status, last error",
            responses=HOOK_404)  # fmt: skip
async def list_deliveries(
    webhook_id: Id,
    principal: Admin,
    factory: FactoryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    def read() -> list[DeliveryOut]:
        with factory() as session:
            rows = webhooks.list_deliveries(session, principal.project_id,
                                            webhook_id=webhook_id, limit=limit)  # fmt: skip
            return [DeliveryOut.model_validate(d) for d in rows]

    return await run_in_threadpool(read)
