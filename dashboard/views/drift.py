"""Drift: segments × metrics of the latest run, one cell in detail, model changes."""

from dashboard import drift_view
from dashboard.project import current_project

drift_view.render(*current_project())
