"""A model budget counts the model's dated snapshots, and never a different model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from core.budget_state import budget_status, exhausted_hard_budgets, refresh_budget
from core.models import Project
from tests.governance.conftest import make_budget, spend

NOW = datetime(2026, 11, 18, 15, 30, tzinfo=UTC)


def test_a_model_budget_counts_snapshots_of_the_model_and_not_other_models(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    budget = make_budget(session_factory, project.id, scope="model", value="gpt-4o",
                         limit_usd="5", hard=True)  # fmt: skip
    day = NOW - timedelta(days=2)
    spend(session_factory, project.id, day, "1.25", model="gpt-4o")
    spend(session_factory, project.id, day, "2", model="gpt-4o", response_model="gpt-4o-2024-08-06")
    spend(session_factory, project.id, day, "7", model="gpt-4o-mini")
    spend(session_factory, project.id, day, "9", model="gpt-4o-mini-2024-07-18")
    spend(session_factory, project.id, day, "11", model="gpt-4o-audio-preview")
    spend(
        session_factory, project.id, NOW - timedelta(minutes=20), "0.5", model="gpt-4o-2024-11-20"
    )
    with session_factory.begin() as session:
        refresh_budget(session, project.id, budget, NOW)
    with session_factory() as session:
        assert budget_status(session, project.id, budget, NOW).spent == Decimal("3.75")
    # Still under the limit; one more snapshot call exhausts it, for any name of the model.
    spend(session_factory, project.id, NOW - timedelta(minutes=5), "1.25",
          model="gpt-4o", response_model="gpt-4o-2024-08-06")  # fmt: skip
    with session_factory() as session:
        cases = [("gpt-4o", True), ("gpt-4o-2024-08-06", True), ("gpt-4o-mini", False),
                 ("gpt-4o-mini-2024-07-18", False)]  # fmt: skip
        for model, limited in cases:
            found = exhausted_hard_budgets(session, project.id, {"model": model}, NOW)
            assert [b.id for b in found] == ([budget] if limited else []), model
