"""Running dashboard pages under Streamlit's AppTest (the ``app`` fixture is in conftest)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


def open_page(app: AppTest, name: str) -> AppTest:
    """Run the app, then switch to ``views/<name>.py``; fails on an uncaught exception."""
    app.run()
    app.switch_page(f"views/{name}.py").run()
    assert not app.exception, app.exception
    return app
