"""Full-text search in prompts and completions: English, Chinese and Arabic, long and short."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from core.models import Project
from core.queries import list_traces
from tests.collector.test_api_seed import names, seed


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("refund 100%", ["trace-4"]),  # English, case-insensitive, % is literal
        ("ORDER_7", ["trace-4"]),  # _ is literal too
        ("退款政策", ["trace-5"]),  # Chinese, in the prompt
        ("三十天内退款", ["trace-5"]),  # Chinese, in the completion
        ("سياسة الاسترداد", ["trace-6"]),  # Arabic, in the prompt
        ("ثلاثين", ["trace-6"]),  # Arabic, one word of the completion
        ("退款", ["trace-5"]),  # two characters: below the trigram length
        ("退", ["trace-5"]),  # one character
        ("zz", []),
        ("no such words anywhere", []),
    ],
)
def test_search_matches_substrings_in_any_script(
    client: TestClient, query: str, expected: list[str]
) -> None:
    assert names(client.get("/api/v1/traces", params={"q": query}).json()) == expected
    spans = client.get("/api/v1/spans", params={"q": query}).json()["items"]
    assert [f"trace-{int(s['trace_id'], 16)}" for s in spans] == expected


@pytest.mark.usefixtures("seeded")
def test_the_trigram_index_answers_chinese_and_arabic(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    """pg_trgm makes trigrams of CJK and Arabic letters in this UTF-8 database, so the GIN
    index can answer such a search; with sequential scans off, it is the plan."""
    with session_factory() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        for query, trace in (("退款政策", "trace-5"), ("سياسة", "trace-6")):
            trigrams = session.scalar(text("SELECT cardinality(show_trgm(:q))"), {"q": query})
            assert trigrams
            assert trigrams >= 3
            plan = session.execute(
                text("EXPLAIN SELECT 1 FROM spans WHERE input_text ILIKE :q"), {"q": f"%{query}%"}
            ).scalars()
            assert "ix_spans_project_input_text_trgm" in "\n".join(plan)
            page = list_traces(session, project.id, search=query)
            assert [t.name for t in page.items] == [trace]


@pytest.mark.usefixtures("seeded")
def test_search_over_the_length_limit_is_rejected(client: TestClient) -> None:
    assert client.get("/api/v1/traces", params={"q": "x" * 201}).status_code == 422
