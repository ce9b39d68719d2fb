"""Sessions, end users, score means, human scores and content withheld from finance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from core.models import Project
from core.queries import get_trace, list_traces, score_means
from core.queries_annotations import add_human_score
from core.queries_sessions import get_session, list_end_users, list_sessions
from core.queries_spans import list_spans
from tests.collector.test_api_seed import T0, seed


@pytest.fixture
def seeded(session_factory: sessionmaker[Session], project: Project) -> None:
    seed(session_factory, project)


@pytest.mark.usefixtures("seeded")
def test_sessions_group_traces_newest_first_and_page(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        first = list_sessions(session, project.id, limit=1)
        second = list_sessions(session, project.id, limit=1, cursor=first.next_cursor)
    assert [s.session_id for s in first.items + second.items] == ["s1", "s2"]
    assert second.next_cursor is None
    s1 = first.items[0]
    assert (s1.traces, s1.llm_calls, s1.errors, s1.user_ids) == (6, 6, 1, ("u1",))


@pytest.mark.usefixtures("seeded")
def test_a_conversation_lists_its_llm_calls_in_order(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        detail = get_session(session, project.id, "s1")
        assert get_session(session, project.id, "nope") is None
    assert detail is not None
    assert [t.input_text for t in detail.turns][:2] == ["prompt 0", "prompt 1"]
    assert [t.start_time for t in detail.turns] == sorted(t.start_time for t in detail.turns)


@pytest.mark.usefixtures("seeded")
def test_end_users_carry_calls_tokens_cost_errors_and_last_seen(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        page = list_end_users(session, project.id)
    u1, u2 = page.items
    assert (u1.user_id, u1.traces, u1.errors) == ("u1", 6, 1)
    assert u1.last_seen == T0 + timedelta(minutes=6)
    assert (u2.user_id, u2.llm_calls, u2.total_tokens) == ("u2", 1, 45)


@pytest.mark.usefixtures("seeded")
def test_without_content_no_prompt_completion_or_search_leaves_the_read_layer(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory() as session:
        detail = get_trace(session, project.id, f"{0:032x}", content=False)
        conversation = get_session(session, project.id, "s1", content=False)
        spans = list_spans(session, project.id, content=False).items
        with pytest.raises(PermissionDeniedError):
            list_traces(session, project.id, search="prompt", content=False)
    assert detail is not None
    assert all(s.input is None and s.output is None and s.attributes == {} for s in detail.spans)
    assert detail.summary.cost > 0  # spend stays visible
    assert conversation is not None
    assert all(t.input is None and t.input_text is None for t in conversation.turns)
    assert all(s.input is None and s.output is None for s in spans)


@pytest.mark.usefixtures("seeded")
def test_a_human_score_lands_on_the_trace_and_in_the_means(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_human_score(
            session,
            project.id,
            f"{1:032x}",
            name="review",
            value=0.5,
            comment="ok",
            span_id=f"{1:015x}b",
        )
        with pytest.raises(NotFoundError):
            add_human_score(session, project.id, "f" * 32, name="review", value=1.0)
        with pytest.raises(InvalidInputError):
            add_human_score(session, project.id, f"{1:032x}", name="review", value=float("nan"))
    with session_factory() as session:
        detail = get_trace(session, project.id, f"{1:032x}")
        means = score_means(
            session, project.id, T0 - timedelta(days=3650), T0 + timedelta(days=3650)
        )
    assert detail is not None
    assert [(s.name, s.source, s.value) for s in detail.scores] == [("review", "human", 0.5)]
    assert [(m.name, m.count) for m in means] == [("helpfulness", 2), ("review", 1)]


@pytest.mark.usefixtures("seeded")
def test_score_means_place_scores_at_their_trace_time_not_when_written(
    session_factory: sessionmaker[Session], project: Project
) -> None:
    with session_factory.begin() as session:
        add_human_score(session, project.id, f"{1:032x}", name="late-review", value=1.0)
    with session_factory() as session:
        around_trace = score_means(
            session, project.id, T0 - timedelta(days=1), T0 + timedelta(days=1)
        )
        now = datetime.now(UTC)
        when_written = score_means(session, project.id, now - timedelta(hours=1), now)
    assert "late-review" in {m.name for m in around_trace}
    assert "late-review" not in {m.name for m in when_written}
