"""What the real-browser tests share: Debian's chromium through Playwright, the app served on
loopback, a page that records script errors and failed requests. Skipped when chromium or
Playwright is missing, unless TSUNAGARI_REQUIRE_BROWSER=1 (then it fails)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bot.cli.demo import seed

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    if os.environ.get("TSUNAGARI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"TSUNAGARI_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def screenshot(page, name: str) -> None:
    """Only with TSUNAGARI_SCREENSHOTS=1, so ordinary runs leave the committed files alone."""
    if os.environ.get("TSUNAGARI_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if sync_playwright is None:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:  # installed but broken: a real failure, not a skip
            pytest.fail(f"{CHROMIUM} did not start: {exc}", pytrace=False)
        try:
            yield b
        finally:
            b.close()


def serve(app, name: str):
    """Serve `app` on a loopback port of its own, with the demo residents seeded; yields its URL."""
    with app.extensions["tsunagari"].db.session() as s:
        seed(s)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)
        srv.server_close()


@pytest.fixture
def server(app):
    """The app on a loopback port of its own, with the demo residents seeded."""
    yield from serve(app, "webchat-test-server")


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 800, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    problems: list[str] = []  # script errors and failed requests, checked at the end of a test

    def on_console(msg):
        # Failed requests also log "Failed to load resource"; they are collected below with their URL.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console error: {msg.text}")

    def on_response(res):
        # The browser asks for /favicon.ico on its own; the chat page has none.
        if res.status >= 400 and not res.url.endswith("/favicon.ico"):
            problems.append(f"{res.status} {res.request.method} {res.url}")

    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", on_console)
    pg.on("response", on_response)
    def on_failed(req) -> None:
        # net::ERR_ABORTED is the browser itself dropping a request when the page navigates away
        # (a stylesheet still loading as a form is submitted), not a request that failed.
        if "ERR_ABORTED" not in (req.failure or ""):
            problems.append(f"failed {req.method} {req.url}: {req.failure}")

    pg.on("requestfailed", on_failed)
    pg.problems = problems  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _expect_timeout():
    if sync_playwright is not None:
        expect.set_options(timeout=TIMEOUT_MS)

