"""The trace list's view round-trips through the URL and rejects what it does not know."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.queries import DailySpend
from dashboard.figures import fill_days, plot_text
from dashboard.state import TraceView, hour_window, time_window

NOW = datetime(2026, 11, 2, 10, 30, tzinfo=UTC)


def test_a_view_round_trips_through_query_params() -> None:
    view = TraceView(range="24h", service="api", model="gpt-4o", errors=True, q="refund",
                     sort="cost", user="u1", session="s1", tag="beta")  # fmt: skip
    assert TraceView.from_params(view.to_params()) == view


def test_the_default_view_has_an_empty_query_string() -> None:
    assert TraceView().to_params() == {}


def test_unknown_range_and_sort_fall_back_to_defaults() -> None:
    view = TraceView.from_params({"range": "1y", "sort": "name; DROP TABLE traces", "errors": "0"})
    assert view == TraceView()


def test_overlong_values_are_cut() -> None:
    assert len(TraceView.from_params({"q": "x" * 1000}).q) == 200


def test_query_kwargs_translate_names_and_blanks() -> None:
    kwargs = TraceView(range="1h", user="u1", errors=True).query_kwargs(NOW)
    assert kwargs["start"] == NOW - timedelta(hours=1)
    assert (kwargs["user_id"], kwargs["errors_only"], kwargs["service"]) == ("u1", True, None)


def test_hour_window_is_aligned_and_all_time_is_open() -> None:
    assert time_window("all", NOW) == (None, None)
    start, end = hour_window("24h", NOW)
    assert (start, end) == (
        datetime(2026, 11, 1, 11, tzinfo=UTC),
        datetime(2026, 11, 2, 11, tzinfo=UTC),
    )


def test_plot_labels_are_escaped_and_cut() -> None:
    assert plot_text("<b>x</b>") == "&lt;b&gt;x&lt;/b&gt;"
    assert len(plot_text("y" * 100)) == 48


def test_days_without_spend_are_filled_with_zero() -> None:
    daily = [DailySpend(date(2026, 11, 1), 1, 10, Decimal("0.5")),
             DailySpend(date(2026, 11, 3), 2, 20, Decimal("0.25"))]  # fmt: skip
    filled = fill_days(daily)
    assert [(d.day.day, d.cost) for d in filled] == [(1, Decimal("0.5")), (2, Decimal(0)),
                                                     (3, Decimal("0.25"))]  # fmt: skip
