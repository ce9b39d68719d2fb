"""The Models page through the real Streamlit app (AppTest) on synthetic traffic."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core.models_rightsizing import Experiment
from core.rightsizing_config import RightsizingSettingsIn, save_rightsizing_settings
from tests.dashboard.demo import XSS
from tests.rightsizing.synthetic import add_calls, add_prices


def _seed(factory: sessionmaker[Session], project_id: int, feature: str = "classify") -> None:
    now = datetime.now(UTC)
    with factory.begin() as session:
        add_prices(session, project_id)
        add_calls(session, project_id, model="big-model", count=300, quality=0.95, now=now,
                  feature=feature)  # fmt: skip
        add_calls(session, project_id, model="small-model", count=120, quality=0.95, seed=2,
                  first=1000, now=now, feature=feature)  # fmt: skip


def _models_page(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("views/models.py").run()
    assert not at.exception, at.exception
    return at


def test_models_page_shows_the_saving_the_table_and_the_evidence(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    _seed(session_factory, default_project)
    at = _models_page(app)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Savings available"] == "$3.51 / month"
    assert shown["Projected monthly savings"] == "$3.51"
    texts = [t.value for t in at.text]
    assert "Task (feature tag): classify" in texts
    assert any(t.startswith("Switch from big-model to small-model") for t in texts)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["big-model", "small-model"]
    assert list(table["calls"]) == [300, 120]
    assert table["quality (95% CI)"][0].startswith("0.950 [")
    assert list(table["monthly cost"]) == ["$3.90", "$0.16"]
    evidence = at.dataframe[1].value
    assert list(evidence["verdict"]) == ["recommended"]
    assert len(at.get("page_link")) >= 2  # example traces link to the trace page


def test_a_too_small_sample_is_said_plainly(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    with session_factory.begin() as session:
        add_prices(session, default_project)
        now = datetime.now(UTC)
        add_calls(session, default_project, model="big-model", count=100, quality=0.9, now=now)
        add_calls(session, default_project, model="small-model", count=10, quality=0.9, now=now,
                  first=1000)  # fmt: skip
    at = _models_page(app)
    assert {m.label: m.value for m in at.metric}["Savings available"] == "$0.00 / month"
    assert (
        "No recommendation: small-model has 10 scored calls and big-model has 100; at least 30 "
        "each are needed to compare quality." in [t.value for t in at.text]
    )


def test_a_task_name_carrying_markup_is_plain_text(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    _seed(session_factory, default_project, feature=XSS)
    at = _models_page(app)
    assert f"Task (feature tag): {XSS}" in [t.value for t in at.text]
    assert all(XSS not in m.value for m in at.markdown)
    assert all(not m.proto.allow_html for m in at.markdown)


def test_an_admin_starts_a_replay_from_the_page(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    _seed(session_factory, default_project)
    with session_factory.begin() as session:
        save_rightsizing_settings(session, default_project, RightsizingSettingsIn(
            replay_base_url="http://127.0.0.1:9/v1"), allow_loopback=True)  # fmt: skip
    at = _models_page(app)
    at.text_input(key="md_replay_model").input("tiny-model")
    at.text_input(key="md_replay_provider").input("openai")
    submit = next(b for b in at.button if b.label == "Start replay")
    submit.click().run()
    assert not at.exception
    assert any("queued" in s.value for s in at.success)
    with session_factory() as session:
        row = session.scalars(select(Experiment)).one()
    assert (row.task_value, row.candidate_model, row.baseline_model, row.status) == (
        "classify", "tiny-model", "big-model", "pending")  # fmt: skip


def test_without_traffic_the_page_says_what_to_do(app: AppTest, default_project: int) -> None:
    at = _models_page(app)
    assert {m.label: m.value for m in at.metric}["Savings available"] == "$0.00 / month"
    assert "No LLM calls with a task in this window" in at.info[0].value
    assert "No experiments yet." in [c.value for c in at.caption]


def test_the_spend_page_says_what_right_sizing_would_save(
    app: AppTest, session_factory: sessionmaker[Session], default_project: int
) -> None:
    _seed(session_factory, default_project)
    app.run()
    at = app.switch_page("views/spend.py").run()
    assert not at.exception, at.exception
    labels = [link.proto.label for link in at.get("page_link")]
    assert any(label.startswith("Savings available: $3.51 a month") for label in labels), labels
