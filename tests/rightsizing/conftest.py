"""Right-sizing tests reuse the dashboard's AppTest fixtures for the Models page."""

from tests.dashboard.conftest import app, dashboard_env, default_project

__all__ = ["app", "dashboard_env", "default_project"]
