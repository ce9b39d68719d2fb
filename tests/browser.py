"""The real dashboard under ``streamlit run`` and headless Debian Chromium, for screenshot tests.

Screenshots land in ``test-artifacts/`` (CI keeps them); look at them when a page changes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.processes import ROOT, service_env, stop, wait_until
from tests.services import free_port, missing_service

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]  # fmt: skip
#: A loaded 2-CPU machine can take a minute to start Streamlit or draw a page.
SLOW_S = 120


@contextmanager
def dashboard_server(database_url: str, **env: str) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free loopback port; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]  # fmt: skip
    process = subprocess.Popen(command, env=service_env(database_url, **env), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, f"streamlit exited with {process.returncode}"
        try:
            return httpx.get(base + "/_stcore/health", timeout=1).text == "ok"
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, SLOW_S, "the dashboard to be healthy")
        yield base
    finally:
        stop(process)


@contextmanager
def browser_page(height: int = 1100) -> Iterator[Page]:
    """A Chromium page 1,440 px wide; fails the test if any script opened a dialog."""
    if not CHROMIUM.exists():
        missing_service("Debian's chromium (apt-get install chromium)", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": height})
            page.on("dialog", refuse)
            yield page
        finally:
            browser.close()
    assert dialogs == [], f"a page opened a dialog: {dialogs}"


def capture(
    page: Page,
    url: str,
    name: str,
    *,
    selectors: Sequence[str] = (),
    condition: str | None = None,
    settle_ms: int = 1_500,
    min_bytes: int = 10_000,
) -> Path:
    """Open ``url``, wait until the script has run and ``selectors``/``condition`` hold, check
    that no exception is shown, and save a full-page screenshot as ``test-artifacts/name.png``."""
    timeout = SLOW_S * 1000
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("h1", timeout=timeout)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout)
    for selector in selectors:
        page.wait_for_selector(selector, timeout=timeout)
    if condition is not None:
        page.wait_for_function(condition, timeout=timeout)
    page.wait_for_timeout(settle_ms)  # charts finish their first draw
    assert page.locator('[data-testid="stException"]').count() == 0, f"{name} shows an error"
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > min_bytes, f"{name}.png is nearly empty"
    return target


__all__ = ["ARTIFACTS", "browser_page", "capture", "dashboard_server"]
