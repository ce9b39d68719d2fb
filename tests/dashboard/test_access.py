"""Sign-in, roles and the finance role's view: enforced by what the data layer returns."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys, users
from tests.dashboard.demo import RAG_TRACE, Demo

PASSWORD = "a-long-password"


def make_user(factory: sessionmaker[Session], email: str, role: str) -> None:
    with factory.begin() as session:
        project = keys.ensure_project(session)[0]
        users.create_user(session, email, project, role, PASSWORD)


def sign_in(app: AppTest, email: str, password: str = PASSWORD) -> AppTest:
    app.run()
    assert app.title[0].value == "Sign in to TokenTrail"
    app.text_input(key="si_email").input(email)
    app.text_input(key="si_password").input(password)
    return app.button[0].click().run()


def all_text(app: AppTest) -> str:
    values = [e.value for kind in ("text", "code", "markdown", "caption") for e in app.get(kind)]
    return "\n".join(str(v) for v in values)


@pytest.mark.usefixtures("demo")
def test_without_users_the_dashboard_is_open_and_says_so(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert any("Open laptop mode" in c.value for c in app.sidebar.caption)


@pytest.mark.usefixtures("demo")
def test_with_a_user_the_dashboard_asks_to_sign_in(
    app: AppTest, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "eng@example.com", "engineer")
    app.run()
    assert app.title[0].value == "Sign in to TokenTrail"
    assert not app.metric  # nothing of the project before signing in
    sign_in(app, "eng@example.com", "wrong-password")
    assert [e.value for e in app.error] == ["Unknown email or wrong password."]


@pytest.mark.usefixtures("demo")
def test_a_signed_in_engineer_sees_everything(
    app: AppTest, session_factory: sessionmaker[Session]
) -> None:
    make_user(session_factory, "eng@example.com", "engineer")
    sign_in(app, "eng@example.com")
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert "Signed in as eng@example.com" in [t.value for t in app.sidebar.text]
    app.query_params["trace_id"] = RAG_TRACE
    app.switch_page("views/trace_detail.py").run()
    assert "Refunds are accepted within 30 days." in all_text(app)


def test_finance_sees_spend_but_no_prompt_or_completion(
    app: AppTest, session_factory: sessionmaker[Session], demo: Demo
) -> None:
    make_user(session_factory, "fin@example.com", "finance")
    sign_in(app, "fin@example.com")
    assert {m.label: m.value for m in app.metric}["Spend"] == "$0.00545"
    app.switch_page("views/traces.py").run()
    assert not app.exception
    assert "tl_q" not in [t.key for t in app.text_input]  # no search over content
    app.query_params["trace_id"] = RAG_TRACE
    app.switch_page("views/trace_detail.py").run()
    shown = all_text(app)
    assert "$0.00125" in [m.value for m in app.metric]
    assert "Refunds are accepted" not in shown
    assert "refund policy" not in shown
    assert "not shown to your role" in shown
    assert "Save score" not in [b.label for b in app.button]  # finance does not annotate


@pytest.mark.usefixtures("demo")
def test_an_engineer_adds_a_human_score_from_the_trace_page(
    app: AppTest, session_factory: sessionmaker[Session]
) -> None:
    app.run()
    app.query_params["trace_id"] = RAG_TRACE
    app.switch_page("views/trace_detail.py").run()
    form_inputs = [t for t in app.text_input if t.label == "Score name"]
    form_inputs[0].input("accuracy")
    next(b for b in app.button if b.label == "Save score").click().run()
    assert not app.exception
    scores = next(f.value for f in app.dataframe if "scorer version" in f.value.columns)
    assert sorted(scores["name"]) == ["accuracy", "helpfulness"]
    assert "human" in list(scores["source"])
