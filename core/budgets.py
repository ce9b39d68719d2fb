"""Budgets: what they limit, their UTC calendar periods, and creating, changing and deleting them.

A budget limits the spend of one UTC calendar period (day, ISO week from Monday, month) of the
whole project or of one value of a rollup dimension (team, feature, customer, model, user).
Its state — spend, forecast, thresholds crossed — is computed from the rollups by
:mod:`core.budget_state`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models_governance import Budget, BudgetState

Scope = Literal["project", "team", "feature", "customer", "model", "user"]
Period = Literal["day", "week", "month"]
#: The rollup column each scope limits (``project`` limits everything).
SCOPE_COLUMNS: dict[str, str] = {
    "team": "team",
    "feature": "feature",
    "customer": "customer",
    "model": "model",
    "user": "user_id",
}
#: A dimension value as the rollups store it; longer values could never match.
MAX_VALUE_CHARS = 200
Threshold = Annotated[int, Field(ge=1, le=1000)]
#: USD, positive, storable in ``Numeric(22, 10)``.
Limit = Annotated[Decimal, Field(gt=0, lt=10**12, decimal_places=10, allow_inf_nan=False)]


class BudgetIn(BaseModel):
    """A budget as a client writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Search team, monthly"])
    scope: Scope = Field(default="project", description="What the budget limits")
    value: str = Field(
        default="",
        max_length=MAX_VALUE_CHARS,
        description="The team, feature, customer, model or user limited ('' for project)",
    )
    period: Period = Field(default="month", description="UTC calendar day, ISO week or month")
    limit_usd: Limit = Field(examples=["500"])
    thresholds: list[Threshold] = Field(
        default_factory=lambda: [50, 80, 100],
        min_length=1,
        max_length=10,
        description="Percentages of the limit; each alerts once per period",
    )
    hard: bool = Field(
        default=False, description="When exhausted, budget_ok() answers false for its scope"
    )
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _strip_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("thresholds")
    @classmethod
    def _sorted_thresholds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("thresholds must be distinct")
        return sorted(value)

    @model_validator(mode="after")
    def _value_fits_scope(self) -> BudgetIn:
        self.value = self.value.strip()
        if self.scope == "project" and self.value:
            raise ValueError("a project-wide budget takes no value")
        if self.scope != "project" and not self.value:
            raise ValueError(f"a {self.scope} budget needs the {self.scope} it limits as value")
        return self


class BudgetOut(BudgetIn):
    """A stored budget."""

    id: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Budget) -> BudgetOut:
        return cls.model_validate(dict(
            id=row.id, name=row.name, scope=row.scope, value=row.scope_value, period=row.period,
            limit_usd=plain(row.limit_usd), thresholds=list(row.thresholds), hard=row.hard,
            enabled=row.enabled, created_at=row.created_at, updated_at=row.updated_at,
        ))  # fmt: skip


def plain(amount: Decimal) -> Decimal:
    """``amount`` without the trailing zeros of its column's scale (``10``, not ``10.0000000000``)
    and never in exponent form; the value is unchanged."""
    normal = amount.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` of the UTC calendar ``period`` (day, week from Monday, month) at ``now``."""
    moment = now.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight, midnight + timedelta(days=1)
    if period == "week":
        start = midnight - timedelta(days=midnight.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = midnight.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)
    raise ValueError(f"unknown budget period {period!r}")


def describe_scope(scope: str, value: str) -> str:
    """``the whole project`` or ``team "search"``, for titles and pages."""
    return "the whole project" if scope == "project" else f'{scope} "{value}"'


def list_budgets(session: Session, project_id: int) -> list[Budget]:
    """The project's budgets, oldest first."""
    query = select(Budget).where(Budget.project_id == project_id).order_by(Budget.id)
    return list(session.scalars(query))


def get_budget(session: Session, project_id: int, budget_id: int) -> Budget:
    """One budget of the project; another project's id is simply not found."""
    row = session.get(Budget, (project_id, budget_id))
    if row is None:
        raise NotFoundError(f"no budget {budget_id}")
    return row


def _columns(data: BudgetIn) -> dict[str, object]:
    return {
        "name": data.name, "scope": data.scope, "scope_value": data.value,
        "period": data.period, "limit_usd": data.limit_usd, "thresholds": list(data.thresholds),
        "hard": data.hard, "enabled": data.enabled,
    }  # fmt: skip


def create_budget(session: Session, project_id: int, data: BudgetIn) -> Budget:
    """Store a new budget; its state follows on the worker's next run."""
    row = Budget(project_id=project_id, **_columns(data))
    session.add(row)
    session.flush()
    session.refresh(row)
    return row


def update_budget(session: Session, project_id: int, budget_id: int, data: BudgetIn) -> Budget:
    """Replace a budget's definition; its computed state is dropped, being about the old one.

    Thresholds already alerted this period stay alerted (alerts are keyed by budget, period
    and threshold), so editing a budget never repeats an alert.
    """
    row = get_budget(session, project_id, budget_id)
    for name, value in _columns(data).items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    session.execute(
        delete(BudgetState).where(
            BudgetState.project_id == project_id, BudgetState.budget_id == budget_id
        )
    )
    session.flush()
    return row


def set_enabled(session: Session, project_id: int, budget_id: int, enabled: bool) -> Budget:
    """Turn a budget on or off (a disabled budget is neither computed nor enforced)."""
    row = get_budget(session, project_id, budget_id)
    row.enabled = enabled
    row.updated_at = datetime.now(UTC)
    session.flush()
    return row


def delete_budget(session: Session, project_id: int, budget_id: int) -> None:
    """Delete a budget and its state; the alerts it raised stay."""
    session.delete(get_budget(session, project_id, budget_id))
    session.flush()


def enabled_budget_keys(session: Session) -> Sequence[tuple[int, int]]:
    """``(project_id, budget_id)`` of every enabled budget, for the state job."""
    query = (
        select(Budget.project_id, Budget.id)
        .where(Budget.enabled.is_(True))
        .order_by(Budget.project_id, Budget.id)
    )
    return [(p, b) for p, b in session.execute(query)]
