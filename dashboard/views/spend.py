"""Spend: month to date, forecast vs budget, breakdowns, unit costs and spend anomalies."""

from dashboard import spend_view
from dashboard.project import current_project

spend_view.render(current_project()[0])
