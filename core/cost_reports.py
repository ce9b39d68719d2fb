"""Cost reports and chargeback statements shaped for finance, from :func:`core.costs.cost_series`.

Column names follow the FinOps FOCUS specification where a FOCUS column means the same thing;
everything TokenTrail adds carries FOCUS's ``x_`` prefix for custom columns:

====================  ========================================================================
FOCUS column          TokenTrail value
====================  ========================================================================
ChargePeriodStart     start of the time bucket (clipped to the report's start), UTC
ChargePeriodEnd       end of the time bucket (clipped to the report's end), exclusive
BillingCurrency       ``USD`` (every price is in USD)
BilledCost            the summed span cost (reported by the app, or computed from prices)
EffectiveCost         the same: no commitments or credits are known to TokenTrail
ChargeCategory        ``Usage``
ProviderName          the LLM provider (``openai``, ``anthropic`` …), when grouped by provider
ServiceName           the model billed (``gpt-4o`` …), when grouped by model
ResourceId            the calling application service (``service``), when grouped by it
ConsumedQuantity      input + output tokens
ConsumedUnit          ``Tokens``
x_Team … x_UserId     the attribution dimensions grouped by ('' = not attributed)
x_Calls, x_Errors     LLM/embedding calls and failed calls
x_*Tokens             each token bucket (cache and reasoning are subsets of input and output)
x_UnpricedCalls       calls without a known price (their cost is not in BilledCost)
====================  ========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.costs import CostRow, Granularity, cost_series
from core.errors import InvalidInputError

CURRENCY = "USD"
UNATTRIBUTED = "(unattributed)"
#: Dimension → FOCUS (or ``x_``) column name.
DIMENSION_COLUMNS = {
    "provider": "ProviderName",
    "model": "ServiceName",
    "service": "ResourceId",
    "team": "x_Team",
    "feature": "x_Feature",
    "customer": "x_Customer",
    "user_id": "x_UserId",
    "environment": "x_Environment",
}
MEASURE_COLUMNS = {
    "calls": "x_Calls",
    "errors": "x_Errors",
    "input_tokens": "x_InputTokens",
    "output_tokens": "x_OutputTokens",
    "cache_read_tokens": "x_CacheReadTokens",
    "cache_write_tokens": "x_CacheWriteTokens",
    "reasoning_tokens": "x_ReasoningTokens",
    "unpriced_calls": "x_UnpricedCalls",
}
MONEY_COLUMNS = frozenset({"BilledCost", "EffectiveCost"})
TIME_COLUMNS = frozenset({"ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart",
                          "BillingPeriodEnd"})  # fmt: skip
ByOwner = Literal["team", "customer"]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def report_columns(group_by: Sequence[str]) -> list[str]:
    """The columns of a cost report grouped by ``group_by``, in order."""
    return [
        "ChargePeriodStart", "ChargePeriodEnd", *(DIMENSION_COLUMNS[d] for d in group_by),
        "BillingCurrency", "BilledCost", "EffectiveCost", "ChargeCategory", "ConsumedQuantity",
        "ConsumedUnit", *MEASURE_COLUMNS.values(),
    ]  # fmt: skip


def focus_row(row: CostRow, start: datetime, end: datetime) -> dict[str, Any]:
    """One cost row as FOCUS-named values (money stays ``Decimal``)."""
    period_start = max(row.bucket_start, start) if row.bucket_start else start
    period_end = min(row.bucket_end, end) if row.bucket_end else end
    out: dict[str, Any] = {"ChargePeriodStart": period_start, "ChargePeriodEnd": period_end}
    out.update({DIMENSION_COLUMNS[d]: v for d, v in row.group.items()})
    out.update(
        BillingCurrency=CURRENCY, BilledCost=row.cost, EffectiveCost=row.cost,
        ChargeCategory="Usage", ConsumedQuantity=row.input_tokens + row.output_tokens,
        ConsumedUnit="Tokens",
    )  # fmt: skip
    out.update({column: getattr(row, m) for m, column in MEASURE_COLUMNS.items()})
    return out


@dataclass(slots=True)
class CostReport:
    start: datetime
    end: datetime
    granularity: Granularity | None
    group_by: list[str]
    columns: list[str]
    rows: list[dict[str, Any]]
    total_cost: Decimal
    total_calls: int
    unpriced_calls: int


def cost_report(
    session: Session,
    project_id: int,
    start: datetime,
    end: datetime,
    granularity: Granularity | None,
    group_by: Sequence[str],
    filters: Mapping[str, Sequence[str]] | None = None,
    max_rows: int | None = None,
) -> CostReport:
    """A FOCUS-style cost report over the rollups (see the module's column table)."""
    rows = cost_series(
        session, project_id, start, end, granularity, group_by, filters, max_rows=max_rows
    )
    return CostReport(
        start=start, end=end, granularity=granularity, group_by=list(group_by),
        columns=report_columns(group_by), rows=[focus_row(r, start, end) for r in rows],
        total_cost=sum((r.cost for r in rows), Decimal(0)),
        total_calls=sum(r.calls for r in rows),
        unpriced_calls=sum(r.unpriced_calls for r in rows),
    )  # fmt: skip


# --- chargeback ------------------------------------------------------------------------------


def month_range(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` → [first day, first day of the next month) in UTC."""
    match = _MONTH.match(month)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise InvalidInputError("month must be YYYY-MM, e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One owner's spend on one model (the unit of a chargeback statement)."""

    owner: str
    unattributed: bool
    provider: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    unpriced_calls: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class OwnerTotal:
    owner: str
    unattributed: bool
    calls: int
    cost: Decimal
    share: Decimal


@dataclass(slots=True)
class Statement:
    """A month's chargeback: lines per owner and model, owner subtotals, the exact total."""

    month: str
    by: ByOwner
    period_start: datetime
    period_end: datetime
    lines: list[StatementLine] = field(default_factory=list)
    owners: list[OwnerTotal] = field(default_factory=list)
    total: Decimal = Decimal(0)
    unattributed_total: Decimal = Decimal(0)
    calls: int = 0
    unpriced_calls: int = 0

    LINE_COLUMNS = (
        "BillingPeriodStart", "BillingPeriodEnd", "Owner", "Unattributed", "ProviderName",
        "ServiceName", "x_Calls", "x_InputTokens", "x_OutputTokens", "x_UnpricedCalls",
        "BillingCurrency", "BilledCost",
    )  # fmt: skip

    def line_rows(self) -> list[dict[str, Any]]:
        """The lines as export rows; their BilledCost sums to :attr:`total` exactly."""
        return [
            dict(zip(self.LINE_COLUMNS, (
                self.period_start, self.period_end, line.owner, line.unattributed,
                line.provider, line.model, line.calls, line.input_tokens, line.output_tokens,
                line.unpriced_calls, CURRENCY, line.cost,
            ), strict=True))
            for line in self.lines
        ]  # fmt: skip


def _share(part: Decimal, total: Decimal) -> Decimal:
    return (part * 100 / total).quantize(Decimal("0.01")) if total else Decimal(0)


def chargeback(session: Session, project_id: int, month: str, by: str) -> Statement:
    """The month's statement per team or customer; spend without an owner is its own line
    (``(unattributed)``), never dropped, so the total equals the month's span costs."""
    if by not in ("team", "customer"):
        raise InvalidInputError("by must be team or customer")
    start, end = month_range(month)
    rows = cost_series(session, project_id, start, end, None, (by, "provider", "model"))
    statement = Statement(month=month, by=by, period_start=start, period_end=end)  # type: ignore[arg-type]
    owners: dict[str, list[Any]] = {}
    for row in rows:
        raw = row.group[by]
        owner = raw or UNATTRIBUTED
        statement.lines.append(StatementLine(
            owner=owner, unattributed=not raw, provider=row.group["provider"],
            model=row.group["model"], calls=row.calls, input_tokens=row.input_tokens,
            output_tokens=row.output_tokens, unpriced_calls=row.unpriced_calls, cost=row.cost,
        ))  # fmt: skip
        subtotal = owners.setdefault(raw, [Decimal(0), 0])
        subtotal[0] += row.cost
        subtotal[1] += row.calls
        statement.calls += row.calls
        statement.unpriced_calls += row.unpriced_calls
    statement.total = sum((line.cost for line in statement.lines), Decimal(0))
    statement.unattributed_total = owners.get("", [Decimal(0)])[0]
    ordered = sorted(owners.items(), key=lambda kv: (kv[0] == "", -kv[1][0], kv[0]))
    statement.owners = [
        OwnerTotal(raw or UNATTRIBUTED, not raw, calls, cost, _share(cost, statement.total))
        for raw, (cost, calls) in ordered
    ]
    statement.lines.sort(key=lambda line: (line.unattributed, line.owner, -line.cost, line.model))
    return statement


__all__ = [
    "CURRENCY",
    "DIMENSION_COLUMNS",
    "MEASURE_COLUMNS",
    "UNATTRIBUTED",
    "CostReport",
    "OwnerTotal",
    "Statement",
    "StatementLine",
    "chargeback",
    "cost_report",
    "focus_row",
    "month_range",
    "report_columns",
]
