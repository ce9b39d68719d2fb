"""The Sessions and Users pages, Overview's quality and trends, the extended trace filters."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.demo import Demo


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


@pytest.mark.usefixtures("demo")
def test_sessions_page_lists_conversations_and_opens_one(app: AppTest) -> None:
    app.run()
    app.switch_page("views/sessions.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["session"]) == ["sess-1"]
    assert list(table["cost"]) == ["$0.00125"]
    assert any(t.startswith("session sess-1   1 trace(s)   1 LLM call(s)") for t in texts(app))
    assert "Refunds are accepted within 30 days." in texts(app)


@pytest.mark.usefixtures("demo")
def test_users_page_lists_end_users_by_last_seen(app: AppTest) -> None:
    app.run()
    app.switch_page("views/users.py").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["user"]) == ["user-7", "user-42"]
    assert list(table["cost"]) == ["$0.0042", "$0.00125"]
    assert list(table["traces with errors"]) == [1, 0]


def test_overview_shows_mean_scores_and_trends(app: AppTest, demo: Demo) -> None:
    app.run()
    assert not app.exception
    quality = next(f.value for f in app.dataframe if "mean" in f.value.columns)
    assert list(quality["score"]) == ["helpfulness"]
    assert list(quality["mean"]) == [0.87]
    assert any("previous 7 days" in c.value for c in app.caption)


@pytest.mark.usefixtures("demo")
def test_cost_range_and_team_filters_reach_the_list(app: AppTest) -> None:
    app.query_params["min_cost"] = "0.002"
    app.run()
    app.switch_page("views/traces.py").run()
    assert list(app.dataframe[0].value["name"]) == ["summarise-ticket"]
    app.text_input(key="tl_min_cost").input("").run()
    app.text_input(key="tl_max_ms").input("2000").run()
    assert list(app.dataframe[0].value["name"]) == ["answer-question"]
    assert app.query_params["max_ms"] == "2000"
    app.text_input(key="tl_team").input("nobody").run()
    assert [i.value for i in app.info] == ["No traces match these filters."]
