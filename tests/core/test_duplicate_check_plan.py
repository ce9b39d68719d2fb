"""The duplicate-call check at ingest reads spans through the primary key, never all of them."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from core.duplicates import related_llm_spans
from core.models import Project


def test_the_stored_span_lookup_has_an_index_plan_whatever_the_batch(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    own = [(f"{i:032x}", f"{i:016x}") for i in range(2_000)]
    parents = [(f"{i:032x}", f"{i + 1:016x}") for i in range(2_000)]
    query = related_llm_spans(project.id, own, parents)
    with session_factory() as session:
        # With sequential scans priced out, the planner shows what indexes allow. The check must
        # probe the primary key twice (children, parents), not scan every span of the project
        # (a seq scan, or a bitmap scan of the project) on every ingest batch.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.scalars(text(f"EXPLAIN {compiled}")))
    assert "Seq Scan on spans" not in plan, plan
    assert plan.count("pk_spans") == 2, plan
