"""The console's code → test → logs path in a real browser: sign in, create a
function from scratch, edit and deploy its handler, save a test event, invoke it,
read the result and the log tail, follow the logs, find it in the list."""

from __future__ import annotations

import io
import json
import re
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import VIEWPORT, Screenshot, sign_in_form
from tests.helpers import Server, create_function, make_zip

HANDLER = '''import json


def lambda_handler(event, context):
    print("console-marker", event.get("name"))
    return {"greeting": "hello " + event.get("name", "world")}
'''


def test_sign_in_lands_on_the_functions_list(page: Page, screenshot: Screenshot) -> None:
    expect(page.get_by_role("link", name="Account", exact=True)).to_be_visible()
    expect(page.get_by_text("us-east-1")).to_be_visible()
    screenshot(page, "signed-in")
    # The theme toggle wins over the system's preference and is remembered.
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name="Switch to light theme")).to_be_visible()
    screenshot(page, "signed-in-dark")
    # Sign-out forgets the key: the form again, even after a reload.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_wrong_secret_is_refused_with_the_aws_error_code(
        browser: Browser, console_server: Server, console_key: tuple[str, str],
        screenshot: Screenshot) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        tab = context.new_page()
        sign_in_form(tab, console_server, (console_key[0], "not-the-secret"))
        expect(tab.get_by_role("alert")).to_contain_text("InvalidSignatureException")
        screenshot(tab, "sign-in-refused")
        tab.reload()  # nothing was kept: the form again
        expect(tab.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        context.close()


def test_create_edit_deploy_test_and_tail_a_function(
        page: Page, screenshot: Screenshot, aws: Callable[[str], Any]) -> None:
    name = f"console-{uuid.uuid4().hex[:8]}"
    page.get_by_role("button", name="Create function").first.click()
    expect(page.get_by_role("heading", name="Create function")).to_be_visible()
    page.get_by_label("Function name").fill(name)
    page.get_by_label("Runtime").select_option("python3.12")
    page.get_by_label("Memory (MB)").fill("256")
    screenshot(page, "create")
    page.get_by_role("button", name="Create function").click()

    # Lands on the Code tab once Active, the starter handler in the editor.
    expect(page).to_have_url(re.compile(rf"/console/functions/{name}/code$"), timeout=60_000)
    expect(page.get_by_role("tab", name="Code")).to_have_attribute("aria-selected", "true")
    editor = page.get_by_label("Contents of lambda_function.py")
    expect(editor).to_contain_text("Hello from loam!")
    assert aws("lambda").get_function_configuration(FunctionName=name)["MemorySize"] == 256

    # Edit: replace the handler, see the unsaved marker, deploy with Ctrl+S.
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(HANDLER)
    expect(page.get_by_text("● Unsaved changes")).to_be_visible()
    page.keyboard.press("Control+S")
    deployed = page.get_by_text("Deployed: the function runs the new code")
    expect(deployed).to_be_visible(timeout=60_000)
    expect(page.get_by_text("● Unsaved changes")).to_have_count(0)
    screenshot(page, "code")
    code = aws("lambda").get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    assert code == aws("lambda").get_function_configuration(FunctionName=name)["CodeSha256"]

    # Test: an event from the custom template, saved, then invoked.
    page.get_by_role("tab", name="Test").click()
    page.get_by_label("Event name").fill("hello-console")
    page.get_by_label("Event JSON").fill('{"name": "console"}')
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Saved event or template")).to_have_value("hello-console")
    page.get_by_role("button", name="Invoke").click()
    expect(page.get_by_text("succeeded")).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Response")).to_contain_text('"greeting": "hello console"')
    expect(page.get_by_label("Log output")).to_contain_text("console-marker console")
    expect(page.get_by_label("Log output")).to_contain_text("REPORT RequestId:")
    duration = page.locator(".metric", has_text="Billed Duration").locator("dd")
    expect(duration).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.locator(".metric", has_text="Init Duration").locator("dd")).to_have_text(
        re.compile(r"^[\d.]+ ms$"))  # the first invocation after a deploy is a cold start
    screenshot(page, "test")

    # The saved event outlives a reload (kept in this browser).
    page.reload()
    expect(page.get_by_label("Saved event or template")).to_have_value("hello-console")
    expect(page.get_by_label("Event JSON")).to_have_value('{"name": "console"}')

    # Logs: the invocation's lines grouped under its request id, live.
    page.get_by_role("tab", name="Logs").click()
    invocation = page.get_by_role("article", name=re.compile("^Invocation "))
    expect(invocation.first).to_contain_text("console-marker console", timeout=30_000)
    expect(invocation.first).to_contain_text("START RequestId:")
    expect(invocation.first).to_contain_text("REPORT RequestId:")
    aws("lambda").invoke(FunctionName=name, Payload=b'{"name": "again"}')["Payload"].read()
    expect(invocation.filter(has_text="console-marker again")).to_have_count(1, timeout=30_000)
    screenshot(page, "logs")
    page.get_by_label("Filter pattern").fill('"console-marker again"')
    page.get_by_role("button", name="Apply filter").click()
    logs = page.get_by_role("article")
    expect(logs.get_by_text("console-marker console")).to_have_count(0)
    expect(logs.get_by_text("console-marker again")).to_have_count(1)
    screenshot(page, "logs-filtered")

    # The list: the function, its runtime and memory, and its invocations.
    page.get_by_role("link", name="Functions").first.click()
    row = page.get_by_role("row", name=re.compile(name))
    expect(row).to_contain_text("python3.12")
    expect(row).to_contain_text("256 MB")
    expect(row.get_by_role("img", name=f"{name}: invocations in the last hour")).to_be_visible()
    expect(row.locator(".spark-total").first).to_have_text("2", timeout=30_000)
    screenshot(page, "list")


def _package(aws: Callable[[str], Any], name: str) -> dict[str, bytes]:
    location = aws("lambda").get_function(FunctionName=name)["Code"]["Location"]
    with urllib.request.urlopen(location, timeout=30) as answer:
        package = answer.read()
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_files_of_the_package_and_an_uploaded_zip(
        page: Page, aws: Callable[[str], Any], tmp_path: Path) -> None:
    name = f"files-{uuid.uuid4().hex[:8]}"
    create_function(aws("lambda"), name, {"index.py": "def handler(event, context):\n"
                                          "    return 'v1'\n"})
    page.goto(f"/console/functions/{name}/code")
    expect(page.get_by_label("Contents of index.py")).to_contain_text("return 'v1'")

    # A module in a folder (by its path), imported by the handler.
    page.get_by_role("button", name="New file").click()
    dialog = page.get_by_role("dialog", name="New file")
    dialog.get_by_label("File path").fill("../outside.py")
    expect(dialog.get_by_text("Use a relative path")).to_be_visible()
    dialog.get_by_label("File path").fill("greetings/words.py")
    dialog.get_by_role("button", name="Create").click()
    page.get_by_label("Contents of greetings/words.py").click()
    page.keyboard.insert_text("WORD = 'from a folder'\n")
    page.get_by_role("button", name="index.py").click()
    page.get_by_label("Contents of index.py").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("from greetings.words import WORD\n\n\n"
                              "def handler(event, context):\n    return WORD\n")
    # A scratch file, renamed, then deleted: it never reaches the package.
    page.get_by_role("button", name="New file").click()
    page.get_by_role("dialog").get_by_label("File path").fill("scratch.txt")
    page.get_by_role("dialog").get_by_role("button", name="Create").click()
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("dialog").get_by_label("File path").fill("notes.txt")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(page.get_by_role("button", name="notes.txt (unsaved)")).to_be_visible()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("button", name="notes.txt (unsaved)")).to_have_count(0)
    page.get_by_role("button", name="Deploy").click()
    expect(page.get_by_text(re.compile(r"^Deployed · "))).to_be_visible(timeout=60_000)
    assert sorted(_package(aws, name)) == ["greetings/words.py", "index.py"]
    answer = aws("lambda").invoke(FunctionName=name)["Payload"].read()
    assert json.loads(answer) == "from a folder"

    # Upload a .zip: deployed as it is, and its files shown.
    upload = tmp_path / "v2.zip"
    upload.write_bytes(make_zip({"index.py": "def handler(event, context):\n    return 'v2'\n",
                                 "data/table.csv": "a,b\n"}))
    page.get_by_label("Upload .zip").set_input_files(str(upload))
    expect(page.get_by_role("button", name="table.csv")).to_be_visible(timeout=60_000)
    expect(page.get_by_label("Contents of index.py")).to_contain_text("return 'v2'")
    answer = aws("lambda").invoke(FunctionName=name)["Payload"].read()
    assert json.loads(answer) == "v2"


def test_a_function_error_is_shown_with_its_error_document(
        page: Page, aws: Callable[[str], Any]) -> None:
    name = f"fails-{uuid.uuid4().hex[:8]}"
    create_function(aws("lambda"), name, {"index.py": "def handler(event, context):\n"
                                          "    raise ValueError('no such order')\n"})
    page.goto(f"/console/functions/{name}/code")
    # The tab list follows the arrow keys, and the address follows the tab.
    page.get_by_role("tab", name="Code").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Test")).to_be_focused()
    expect(page).to_have_url(re.compile(rf"/console/functions/{name}/test$"))
    page.get_by_role("button", name="Invoke").click()
    expect(page.get_by_text("failed (Unhandled)")).to_be_visible(timeout=60_000)
    document = page.get_by_label("Error document")
    expect(document).to_contain_text('"errorType": "ValueError"')
    expect(document).to_contain_text('"errorMessage": "no such order"')
    expect(page.get_by_label("Log output")).to_contain_text("no such order")


def test_create_from_an_uploaded_zip(page: Page, aws: Callable[[str], Any],
                                     tmp_path: Path) -> None:
    name = f"zipped-{uuid.uuid4().hex[:8]}"
    package = tmp_path / "app.zip"
    package.write_bytes(make_zip({"app/main.py": "def run(event, context):\n"
                                  "    return {'from': 'zip'}\n"}))
    page.goto("/console/create")
    page.get_by_label("Upload a .zip").check()
    page.get_by_label("Function name").fill(name)
    page.get_by_label("Deployment package (.zip)").set_input_files(str(package))
    page.get_by_label("Handler", exact=True).fill("app/main.run")
    page.get_by_label("Timeout (seconds)").fill("30")
    page.get_by_role("button", name="Create function").click()
    expect(page).to_have_url(re.compile(rf"/console/functions/{name}/code$"), timeout=60_000)
    expect(page.get_by_label("Contents of app/main.py")).to_contain_text("'from': 'zip'")
    config = aws("lambda").get_function_configuration(FunctionName=name)
    assert (config["Handler"], config["Timeout"]) == ("app/main.run", 30)
    answer = aws("lambda").invoke(FunctionName=name)["Payload"].read()
    assert json.loads(answer) == {"from": "zip"}
