"""The web console at /ui, in a real headless Chromium (Debian's chromium + chromium-driver, driven by
selenium over WebDriver) against a real meta-mcp over HTTP.

Covered: a preloaded server and its tools on the servers page; a catalog search and an add through the
config form generated from the entry's JSON Schema (a validation error shown at its field, then
success), and an entry's secrets shown as set or not (never a field for a value); a tool called
through the form generated from its input schema, with the structured result as a tree, `isError`
marked and the duration; a chat with the scripted model (`openai_stub`) whose tool calls stream in; a
config interrupt answered in the page that resumes and finishes the chat; a server crash that shows
as restarting and then running without a reload; the activity page with calls, durations, errors and
state changes; phone width without horizontal scrolling; the first page's weight; axe-core
(`node_modules/axe-core`) finding no serious or critical violations on any page. Without a browser:
`--no-ui`, the workspace kept in links, another site's POST refused, the Content-Security-Policy.

Screenshots of every page at 1280×800 and 390×844 go to `$META_MCP_CONSOLE_SCREENSHOTS` when set
(`docs/console/` holds the committed ones), else to a temporary directory.
The browser tests skip only when Chromium or its driver is not installed (`scripts/setup --tests`
installs them) or axe-core is missing (`npm ci`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from openai_stub import OpenAIStub, text, tool_calls
from support import REPO, make_client, meta_mcp_http, upstream_entry
from test_agent_loop import _catalog, agent_env, stub  # noqa: F401 - stub: the scripted model, a module fixture

pytestmark = pytest.mark.anyio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
LAPTOP, PHONE = (1280, 800), (390, 844)
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--force-color-profile=srgb"]


def _no_browser() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return "Chromium is not installed (scripts/setup --tests installs Debian's chromium and chromium-driver)"
    return None


needs_browser = pytest.mark.skipif(_no_browser() is not None, reason=_no_browser() or "")


@pytest.fixture(scope="module")
async def meta(stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Any:
    catalog = _catalog(tmp_path_factory.mktemp("console") / "catalog.yaml")
    servers = {"echo": upstream_entry("echo"), "crashy": upstream_entry("crashy"), "rich": upstream_entry("rich")}
    # A restart waits 1 s before it reconnects, so "restarting" is on screen long enough to be seen.
    env = agent_env(stub, META_MCP_STATE_URL="memory://", META_MCP_RESTART_BACKOFF_INITIAL="1")
    async with meta_mcp_http(servers, "--catalog", str(catalog), env=env) as url:
        yield url


@pytest.fixture(scope="module")
def base(meta: str) -> str:
    return meta.removesuffix("/mcp")


@pytest.fixture(scope="module")
def shots() -> Path:
    target = os.environ.get("META_MCP_CONSOLE_SCREENSHOTS")
    path = Path(target) if target else Path(tempfile.mkdtemp(prefix="console-shots-"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if (why := _no_browser()) is not None:
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    for flag in [*CHROME_FLAGS, f"--user-data-dir={profile}", f"--window-size={LAPTOP[0]},{LAPTOP[1]}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_window_size(*LAPTOP)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- helpers


def wait(driver: Any, probe: Callable[[Any], Any], what: str, timeout: float = 20.0) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    def safe(d: Any) -> Any:
        try:
            return probe(d)
        except StaleElementReferenceException:  # a live view was redrawn under the probe: look again
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(safe, message=f"waiting for {what}")


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def shoot(driver: Any, shots: Path, name: str) -> None:
    """Screenshots at laptop and phone width; at phone width the page must not scroll sideways."""
    for (width, height), suffix in ((LAPTOP, "laptop"), (PHONE, "phone")):
        driver.set_window_size(width, height)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {width}px"
        driver.save_screenshot(str(shots / f"{name}-{suffix}.png"))
    driver.set_window_size(*LAPTOP)


def axe_check(driver: Any, page: str) -> None:
    """axe-core in the page: no serious or critical violations."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci installs it from package.json)")
    driver.execute_script(AXE.read_text() + "\n;return true;")
    driver.set_script_timeout(30)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done([{id: 'axe-failed', impact: 'critical', help: String(e), nodes: []}]));")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page}: {bad}"


def no_js_errors(driver: Any) -> None:
    """No script errors (answers with a 4xx status are logged by the browser too: those are expected)."""
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert not errors, errors


def live(driver: Any) -> None:
    wait(driver, lambda d: d.execute_script("return document.body.dataset.live") == "open", "the live stream")


# --------------------------------------------------------------------------- the pages


@needs_browser
async def test_servers_page_shows_the_preloaded_servers_and_their_tools(browser: Any, base: str, shots: Path) -> None:
    browser.get(base + "/ui")
    wait(browser, lambda d: len(all_css(d, "[data-server]")) == 3, "three servers")
    statuses = {c.get_attribute("data-server"): c.get_attribute("data-status") for c in all_css(browser, "[data-server]")}
    assert statuses == {"echo": "running", "crashy": "running", "rich": "running"}
    echo = by_css(browser, "#server-echo")
    assert "stdio" in echo.text and "local" in echo.text
    by_css(browser, "#tools-of-echo summary").click()
    link = by_css(browser, "#tools-of-echo a")
    assert link.text == "echo__echo" and link.is_displayed()
    live(browser)
    no_js_errors(browser)
    axe_check(browser, "servers")
    shoot(browser, shots, "servers")

    by_css(browser, "#restart-echo").click()  # in place (htmx): the note and the cards come back
    wait(browser, lambda d: any("Restarted 'echo'" in n.text for n in all_css(d, ".note.ok")), "the restart")
    assert by_css(browser, "#server-echo").get_attribute("data-status") == "running"

    browser.get(base + "/ui/tools")
    names = [c.get_attribute("data-tool") for c in all_css(browser, "[data-tool]")]
    assert "echo__echo" in names and "rich__get_weather" in names and "find_servers" in names
    assert "Return the given text unchanged." in by_css(browser, "[data-tool='echo__echo']").text
    axe_check(browser, "tools")
    shoot(browser, shots, "tools")


@needs_browser
async def test_first_page_weight_is_under_100_kb(browser: Any, base: str) -> None:
    browser.get(base + "/ui")
    live(browser)
    sizes = browser.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "const r = performance.getEntriesByType('resource').filter(e => !e.name.includes('/ui/events'));"
        "return {transfer: n.transferSize + r.reduce((a, e) => a + e.transferSize, 0),"
        " decoded: n.decodedBodySize + r.reduce((a, e) => a + e.decodedBodySize, 0), count: r.length};")
    assert sizes["count"] >= 3  # the stylesheet, htmx and console.js
    assert sizes["transfer"] < 100_000 and sizes["decoded"] < 100_000, sizes


@needs_browser
async def test_catalog_search_and_add_through_the_config_form(browser: Any, base: str, shots: Path) -> None:
    browser.get(base + "/ui/catalog")
    search = by_css(browser, "#catalog-q")
    search.send_keys("greeting")  # searched as it is typed (htmx), ranked like find_servers
    wait(browser, lambda d: any(e.get_attribute("data-entry") == "greeter" for e in all_css(d, "[data-entry]")),
         "greeter among the results")
    assert "q=greeting" in browser.current_url
    axe_check(browser, "catalog")
    shoot(browser, shots, "catalog")

    by_css(browser, "[data-entry='greeter'] h2 a").click()
    wait(browser, lambda d: d.find_elements("id", "field-greeting"), "the config form")
    assert "How to greet" in by_css(browser, "#field-greeting-help").text
    by_css(browser, "#add-button").click()  # empty: the operation says greeting is required
    error = wait(browser, lambda d: d.find_elements("id", "field-greeting-error"), "the field's error")[0]
    assert error.text == "required"
    assert by_css(browser, "#field-greeting").get_attribute("aria-invalid") == "true"
    axe_check(browser, "catalog entry with an error")
    shoot(browser, shots, "catalog-entry")

    by_css(browser, "#field-greeting").send_keys("hej")
    by_css(browser, "#add-button").click()
    outcome = wait(browser, lambda d: d.find_elements("css selector", "#add-outcome.ok"), "the add to succeed")[0]
    assert "Added 'greeter'" in outcome.text and "greeter__environment" in outcome.text
    browser.get(base + "/ui")
    wait(browser, lambda d: d.find_elements("css selector", "[data-server='greeter'][data-status='running']"),
         "greeter on the servers page")
    by_css(browser, "#remove-greeter").click()
    wait(browser, lambda d: d.switch_to.alert, "the confirmation").accept()
    wait(browser, lambda d: any("Removed 'greeter'" in n.text for n in all_css(d, ".note.ok")), "the removal")
    assert not all_css(browser, "[data-server='greeter']")

    browser.get(base + "/ui/catalog/locked")  # a secret: shown as not set, and never asked for
    secrets = by_css(browser, ".secrets").text
    assert "LOCKED_TOKEN_UNSET" in secrets and "not set" in secrets
    assert not all_css(browser, "input[type='password']") and "LOCKED" not in browser.execute_script(
        "return Array.from(document.querySelectorAll('input,textarea')).map(e => e.name).join(' ')")
    by_css(browser, "#add-button").click()
    outcome = wait(browser, lambda d: d.find_elements("css selector", "#add-outcome"), "the secrets answer")[0]
    assert "LOCKED_TOKEN_UNSET" in outcome.text and "never" in outcome.text
    no_js_errors(browser)


@needs_browser
async def test_call_a_tool_through_its_form_and_see_the_structured_result(browser: Any, base: str,
                                                                          shots: Path) -> None:
    browser.get(base + "/ui/tools/rich__get_weather")
    assert by_css(browser, "#field-units").tag_name == "select"  # an enum
    by_css(browser, "#field-city").send_keys("Oslo")
    by_css(browser, "#call-button").click()
    result = wait(browser, lambda d: d.find_elements("id", "result"), "the result")[0]
    assert "ok" in by_css(browser, "#result-h").text and " ms" in by_css(browser, "#result-h .duration").text
    tree = by_css(browser, ".structured").text
    assert "city" in tree and '"Oslo"' in tree and "conditions" in tree
    assert browser.switch_to.active_element == result  # focus moved to the result
    axe_check(browser, "tool with a result")
    shoot(browser, shots, "tool")

    browser.get(base + "/ui/tools/rich__fail")
    by_css(browser, "#field-message").send_keys("boom")
    by_css(browser, "#call-button").click()
    wait(browser, lambda d: d.find_elements("css selector", "#result.is-error"), "an isError result")
    assert "isError" in by_css(browser, "#result-h").text and "boom" in by_css(browser, "#result").text

    browser.get(base + "/ui/tools/rich__echo")  # bad JSON is an error at its field, before any call
    by_css(browser, ".raw summary").click()
    by_css(browser, "#field-raw-json").send_keys("{not json")
    by_css(browser, "#call-button").click()
    wait(browser, lambda d: d.find_elements("id", "field-raw-json-error"), "the JSON error")
    no_js_errors(browser)


def _chat(browser: Any, message: str) -> None:
    box = by_css(browser, "#chat-input")
    box.clear()
    box.send_keys(message)
    by_css(browser, "#chat-send").click()


@needs_browser
async def test_chat_streams_tool_calls_and_answers_a_config_interrupt(browser: Any, base: str, stub: OpenAIStub,
                                                                     shots: Path) -> None:
    browser.get(base + "/ui/chat")
    stub.script(tool_calls(("echo__echo", {"text": "hi there"})), text("The echo said: hi there", delay=0.3))
    _chat(browser, "Echo 'hi there'")
    call = wait(browser, lambda d: d.find_elements("css selector", "details.msg.tool[data-tool='echo__echo']"),
                "the tool call")[0]
    wait(browser, lambda d: "done" in call.get_attribute("class"), "the tool result")
    wait(browser, lambda d: any(m.text == "The echo said: hi there" for m in all_css(d, ".msg.assistant")),
         "the answer")
    call.click()
    assert "hi there" in call.text

    browser.get(base + "/ui/chat?workspace=chatter")  # another workspace: the page and its chat keep it
    assert by_css(browser, "body").get_attribute("data-workspace") == "chatter"
    assert "workspace=chatter" in by_css(browser, "nav a[href*='/tools']").get_attribute("href")
    stub.script(tool_calls(("add_server", {"name": "greeter-auto"})))
    _chat(browser, "Set up the greeter")
    form = wait(browser, lambda d: d.find_elements("css selector", "form.msg.interrupt"), "the config form")[0]
    assert "greeter-auto" in form.text and "How to greet" in form.text
    field = by_css(form, "input[name='greeting']")
    assert browser.switch_to.active_element == field
    axe_check(browser, "chat with a config interrupt")
    stub.script(tool_calls(("greeter-auto__environment", {"names": ["GREETING"]})), text("Greeting is moin"))
    field.send_keys("moin")
    by_css(form, "button").click()
    wait(browser, lambda d: any(m.text == "Greeting is moin" for m in all_css(d, ".msg.assistant")),
         "the resumed chat's answer")
    assert all_css(browser, "details.msg.tool[data-tool='greeter-auto__environment']")
    assert "Done" in by_css(browser, "#chat-status").text
    shoot(browser, shots, "chat")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for workspace, active in (("chatter", True), ("default", False)):
            servers = (await http.get("/mcp/servers", headers={"X-MCP-Workspace": workspace})).json()
            assert ("greeter-auto" in servers["active_servers"]) is active, servers

    stub.script(tool_calls(("add_server", {"name": "locked"})))
    _chat(browser, "use locked")
    stop = wait(browser, lambda d: d.find_elements("css selector", ".msg.stop"), "the secrets stop")[0]
    assert "LOCKED_TOKEN_UNSET" in stop.text and "never accepted" in stop.text
    no_js_errors(browser)


@needs_browser
async def test_a_crash_shows_restarting_then_running_without_a_reload(browser: Any, base: str, meta: str,
                                                                       shots: Path) -> None:
    browser.get(base + "/ui")
    live(browser)
    browser.execute_script("window.sameDocument = true;")

    def status(d: Any) -> str:
        return d.execute_script("const c = document.querySelector(\"[data-server='crashy']\");"
                                "return c && c.dataset.status;")

    assert status(browser) == "running"
    async with make_client(meta) as client:  # a client's call crashes the server
        result = await client.call_tool("crashy__crash", {})
    assert result.is_error
    wait(browser, lambda d: status(d) == "restarting", "restarting")
    assert "Last error" in by_css(browser, "[data-server='crashy']").text
    wait(browser, lambda d: status(d) == "running", "running again", timeout=30)
    assert browser.execute_script("return window.sameDocument === true")  # no reload

    browser.get(base + "/ui/activity")
    rows = [r.text for r in all_css(browser, "table.activity tbody tr")]
    assert any("crashy__crash" in r and "ms" in r for r in rows), rows  # the call, its duration and error
    assert any("crashy" in r and "running → restarting" in r for r in rows), rows
    assert any("crashy" in r and "restarting → running" in r for r in rows), rows
    assert any("rich__get_weather" in r for r in rows), rows
    assert all_css(browser, "tr.call.failed")
    axe_check(browser, "activity")
    shoot(browser, shots, "activity")


# --------------------------------------------------------------------------- without a browser


async def test_workspace_links_csp_and_cross_site_posts(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        page = await http.get("/ui", params={"workspace": "team-a"})
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert 'href="/ui/tools?workspace=team-a"' in page.text
        by_header = await http.get("/ui/tools", headers={"X-MCP-Workspace": "team-b"})
        assert "workspace <strong>team-b</strong>" in by_header.text
        assert (await http.get("/ui", params={"workspace": "bad name"})).status_code == 400
        refused = await http.post("/ui/servers/echo/remove", headers={"Origin": "http://evil.example"},
                                  content="")
        assert refused.status_code == 403  # the HTTP guard, on loopback
        other_port = await http.post("/ui/servers/echo/remove", headers={"Origin": "http://127.0.0.1:1"},
                                     content="")
        assert other_port.status_code == 403 and "another site" in other_port.text  # the console itself
        assert "echo" in (await http.get("/mcp/servers")).json()["active_servers"]
        assert (await http.get("/ui/nowhere")).status_code == 404
        events = []
        async with http.stream("GET", "/ui/events", params={"view": "servers"}) as stream:
            async for line in stream.aiter_lines():
                events.append(line)
                if line == "" and any(e.startswith("event: servers") for e in events):
                    break
        assert any("data-server=\"echo\"" in e for e in events)


async def test_no_ui_turns_the_console_off() -> None:
    async with meta_mcp_http({}, "--no-ui", env={"META_MCP_STATE_URL": "memory://"}) as url:
        async with httpx.AsyncClient(base_url=url.removesuffix("/mcp"), timeout=30) as http:
            assert (await http.get("/ui")).status_code == 404
            assert (await http.get("/health")).status_code == 200


async def test_pages_built_on_the_first_visit_show_the_calls_made_before_it() -> None:
    """The console's pages and the chat API are built on their first request (start-up stays fast), but
    the activity monitor runs from start-up: a call made before anyone opened /ui is on the activity page,
    and concurrent first requests all get the one build."""
    servers = {"echo": upstream_entry("echo")}
    async with meta_mcp_http(servers, env={"META_MCP_STATE_URL": "memory://"}) as url:
        async with make_client(url) as client:
            result = await client.call_tool("echo__echo", {"text": "before-the-console"})
            assert not result.is_error
        async with httpx.AsyncClient(base_url=url.removesuffix("/mcp"), timeout=30) as http:
            paths = ["/ui/activity", "/ui", "/ui/tools", "/health", "/mcp/servers"]
            pages: list[Any] = [None] * len(paths)

            async def get(i: int) -> None:
                pages[i] = await http.get(paths[i])

            async with anyio.create_task_group() as tg:
                for i in range(len(paths)):
                    tg.start_soon(get, i)
            assert [p.status_code for p in pages] == [200] * 5
            assert "echo__echo" in pages[0].text
            assert pages[3].json()["status"] == "healthy"
