"""The console in headless Chromium against a real ``loam serve`` with authentication on.

Fixtures: ``console_server`` (development mode off), ``console_key`` (made by
``loam keys create``), ``aws(service)`` (boto3 clients signed with that key),
``page`` (a Chromium page already signed in through the console's own form) and
``screenshot(page, name)`` (writes ``test-artifacts/console/<name>.png``).
Skipped, saying why, only where Debian's ``chromium`` is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from loam.http.console_front import DIST
from tests.helpers import Server, start_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium")
VIEWPORT = {"width": 1280, "height": 720}  # the smallest laptop screen the console serves

if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (scripts/setup --dev installs it)",
                allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

Screenshot = Callable[[Page, str], Path]


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    assert (DIST / "index.html").is_file(), "the console is not built: run scripts/setup"
    srv = start_server(Path(tmp_path_factory.mktemp("console")) / "data",
                       extra_env={"LOAM_DEV_MODE": "0"})
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def console_key(console_server: Server) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-m", "loam", "keys", "create", "--data-dir",
                           str(console_server.data_dir)], capture_output=True, text=True,
                          timeout=60, check=True)
    created = dict(line.split("=", 1) for line in done.stdout.split())
    return created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(scope="session")
def aws(console_server: Server, console_key: tuple[str, str]) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=console_server.url, region_name="us-east-1",
                            aws_access_key_id=console_key[0],
                            aws_secret_access_key=console_key[1],
                            config=Config(retries={"max_attempts": 1}, read_timeout=120))
    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: while Playwright's sync API is open it keeps an
    # event loop running in this thread, and every later test's asyncio.run() fails.
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's own sandbox cannot start as root, which the tests run as.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


def sign_in_form(page: Page, server: Server, key: tuple[str, str]) -> None:
    """Fill in and send the console's sign-in form."""
    page.goto(server.url + "/console/")
    page.get_by_label("Access key ID").fill(key[0])
    page.get_by_label("Secret access key").fill(key[1])
    page.get_by_label("Region").fill("us-east-1")
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, server: Server, key: tuple[str, str]) -> None:
    sign_in_form(page, server, key)
    expect(page.get_by_role("heading", name="Functions", level=1)).to_be_visible()


@pytest.fixture
def page(browser: Browser, console_server: Server,
         console_key: tuple[str, str]) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=console_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems: list[str] = []
    # Uncaught exceptions and Content-Security-Policy refusals fail the test.
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda message: problems.append(
        f"console: {message.text} at {message.location}")
        if message.type == "error" and "Content Security Policy" in message.text else None)
    sign_in(tab, console_server, console_key)
    yield tab
    context.close()
    assert not problems, problems


def take_screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@pytest.fixture
def screenshot() -> Screenshot:
    return take_screenshot
