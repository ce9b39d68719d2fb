"""The Budgets and Alerts pages in the real Streamlit app (AppTest) over a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from streamlit.testing.v1 import AppTest

from core import keys, users
from core.alerts import raise_alert
from core.models_governance import Alert, Budget, Webhook
from tests.governance.conftest import earlier_today, make_budget, spend
from tests.pages import open_page as page

PASSWORD = "a-long-password"
XSS = "<script>alert(1)</script>**bold**"


@pytest.fixture
def project_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        return keys.ensure_project(session)[0].id


def sign_in_as(app: AppTest, factory: sessionmaker[Session], role: str) -> AppTest:
    with factory.begin() as session:
        project = keys.ensure_project(session)[0]
        users.create_user(session, f"{role}@example.com", project, role, PASSWORD)
    app.run()
    app.text_input(key="si_email").input(f"{role}@example.com")
    app.text_input(key="si_password").input(PASSWORD)
    app.button[0].click().run()
    return app


def test_budgets_show_spend_against_limit_and_a_burn_down(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    spend(session_factory, project_id, earlier_today(), "7.5", team="search")
    make_budget(session_factory, project_id, name=XSS, scope="team", value="search", hard=True)
    make_budget(session_factory, project_id, name="Everything", limit_usd="100", period="week")
    page(app, "budgets")
    table = app.dataframe[0].value
    assert list(table["budget"]) == [XSS, "Everything"]
    assert list(table["spent"]) == ["$7.50", "$7.50"]
    assert list(table["used %"]) == ["75%", "8%"]
    assert list(table["state"]) == ["over 50 %", "ok"]
    assert list(table["mode"]) == ["hard", "soft"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Spent"] == "$7.50"
    assert metrics["Limit"] == "$10.00"
    assert len(app.get("plotly_chart")) == 1
    assert all("<script>" not in m.value for m in app.markdown)


def test_an_admin_creates_a_budget_and_bad_input_is_explained(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    page(app, "budgets")
    assert "No budgets yet" in app.info[0].value
    app.text_input(key="bg_new_name").input("Ads, daily")
    app.selectbox(key="bg_new_scope").select("team")
    app.text_input(key="bg_new_value").input("ads")
    app.text_input(key="bg_new_limit").input("not money")
    app.button(key="FormSubmitter:bg_new-Create budget").click().run()
    assert "The limit must be an amount" in app.error[0].value
    app.text_input(key="bg_new_limit").input("$25")
    app.text_input(key="bg_new_thresholds").input("90, 50")
    app.button(key="FormSubmitter:bg_new-Create budget").click().run()
    assert not app.exception
    with session_factory() as session:
        budget = session.scalars(select(Budget)).one()
    assert (budget.name, budget.scope, budget.scope_value, str(budget.limit_usd)) == (
        "Ads, daily",
        "team",
        "ads",
        "25.0000000000",
    )
    assert budget.thresholds == [50, 90]
    assert list(app.dataframe[0].value["budget"]) == ["Ads, daily"]


def test_pausing_a_budget_from_the_page(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    budget_id = make_budget(session_factory, project_id)
    page(app, "budgets")
    app.button(key="bg_toggle").click().run()
    with session_factory() as session:
        assert session.get_one(Budget, (project_id, budget_id)).enabled is False
    assert list(app.dataframe[0].value["state"]) == ["paused"]


def test_a_viewer_sees_budgets_but_cannot_change_them(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    make_budget(session_factory, project_id)
    sign_in_as(app, session_factory, "viewer")
    app.switch_page("views/budgets.py").run()
    assert not app.exception
    assert len(app.dataframe) == 1
    assert not app.get("form")
    assert any("Admins and finance" in c.value for c in app.caption)


def test_alerts_filter_and_acknowledge(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    with session_factory.begin() as session:
        for kind, severity in (("budget", "critical"), ("anomaly", "warning"), ("drift", "info")):
            raise_alert(session, project_id=project_id, kind=kind, severity=severity,
                        title=f"{kind} {XSS}", body="details", dedup_key=kind)  # fmt: skip
    page(app, "alerts")
    assert list(app.dataframe[0].value["kind"]) == ["budget", "anomaly", "drift"]
    app.multiselect(key="al_kinds").select("anomaly").run()
    assert list(app.dataframe[0].value["kind"]) == ["anomaly"]
    pick = app.multiselect(key="al_ack_pick")
    pick.select(pick.options[0]).run()
    app.button(key="al_ack").click().run()
    assert "No open alerts." in app.info[0].value
    with session_factory() as session:
        acked = session.scalars(select(Alert).where(Alert.acknowledged_at.is_not(None))).one()
    assert (acked.kind, acked.acknowledged_by) == ("anomaly", "dashboard")
    app.toggle(key="al_open").set_value(False).run()
    shown = dict(zip(app.dataframe[0].value["kind"], app.dataframe[0].value["acknowledged"],
                     strict=True))  # fmt: skip
    assert list(shown) == ["anomaly"], "the kind filter still holds"
    assert shown["anomaly"].endswith("by dashboard")


def test_webhooks_are_checked_when_added_and_masked_when_shown(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    page(app, "alerts")
    app.text_input(key="al_hook_url").input("http://169.254.169.254/latest/meta-data")
    app.button(key="FormSubmitter:al_hook_new-Add webhook").click().run()
    assert app.error[0].value.startswith("Refused:")
    app.text_input(key="al_hook_url").input("https://93.184.215.14/services/T0/B0/secret-token")
    app.text_input(key="al_hook_name").input("#finance")
    app.button(key="FormSubmitter:al_hook_new-Add webhook").click().run()
    assert not app.exception
    assert list(app.dataframe[-1].value["url"]) == ["https://93.184.215.14/…"]
    app.button(key="al_hook_toggle").click().run()
    with session_factory() as session:
        hook = session.scalars(select(Webhook)).one()
    assert (hook.name, hook.enabled) == ("#finance", False)


def test_finance_acknowledges_alerts_but_sees_no_webhooks(
    app: AppTest, session_factory: sessionmaker[Session], project_id: int
) -> None:
    with session_factory.begin() as session:
        raise_alert(session, project_id=project_id, kind="budget", severity="warning",
                    title="Budget passed 80 %", dedup_key="b")  # fmt: skip
    sign_in_as(app, session_factory, "finance")
    app.switch_page("views/alerts.py").run()
    assert not app.exception
    assert app.button(key="al_ack") is not None
    assert not [s for s in app.subheader if s.value == "Webhooks"]
