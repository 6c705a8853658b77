"""The UI in a real browser: headless Debian Chromium driven by Playwright.

On the real Amazon data, trained and scored, with the real 0.5B model behind
the chat. Screenshots of each tab are saved to test-artifacts/ui/. Skipped,
with the reason, where Chromium or Playwright is missing (`apt-get install
chromium`; never `playwright install`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import AMAZON, REPO, free_port, require_data

CHROMIUM = os.environ.get("SEGASSIST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "ui"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
CUSTOMER = "ADH0O8UVJOT10"  # the Amazon set's most prolific reviewer
SLOW_MS = 420_000  # the 0.5B model on two CPU cores


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def trained_amazon(tmp_path_factory):
    """The Amazon data imported, trained on and scored (no review index: behaviour + SQL)."""
    from segassist.training.pipeline import score_customers, train_model
    from segassist.warehouse.db import migrate, open_engine
    from segassist.warehouse.importers import import_dataset

    folder = tmp_path_factory.mktemp("ui-amazon")
    engine = open_engine(f"sqlite:///{folder / 'w.db'}")
    migrate(engine)
    import_dataset(engine, "amazon", [require_data(AMAZON)])
    train_model(engine, folder / "models")
    score_customers(engine)
    return engine, folder


def _start(services):
    from segassist.ui.app import build_app, theme

    app = build_app(services)
    app.queue()
    port = free_port()
    app.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        theme=theme(),
    )
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app_url(trained_amazon, llm_url):
    from segassist.ui.services import Services

    engine, folder = trained_amazon
    app, url = _start(Services(engine, None, llm_url, folder / "exports"))
    yield url
    app.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    yield opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _text_box(page, elem_id: str):
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def _wait_for_text(page, selector: str, text: str, timeout: int = 60_000) -> str:
    page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.innerText || '').includes(text)",
        arg=[selector, text],
        timeout=timeout,
    )
    return page.locator(selector).inner_text()


def _wait_for_plots(page, count: int) -> None:
    """Plotly figures drawn in the page (rendered after the data arrives)."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
        arg=count,
        timeout=30_000,
    )


def test_ask_a_question_and_read_the_answer(page, app_url):
    page.goto(app_url)
    _text_box(page, "question").fill("How many reviews are there in total?")
    page.locator("#ask").click()
    _wait_for_text(page, "#chatbot", "Ran SQL", SLOW_MS)  # the tool step, collapsed
    page.wait_for_function(  # the answer's footer: time taken, once it is done
        "() => /\\d+\\.\\d s/.test(document.querySelector('#chatbot').innerText)",
        timeout=SLOW_MS,
    )
    shown = page.locator("#chatbot").inner_text()
    assert "10261" in shown.replace(",", "")


def test_open_a_segment(page, app_url):
    page.goto(app_url)
    page.get_by_role("tab", name="Segments").click()
    status = _wait_for_text(page, "#segments-status", "segments")
    assert "customers in" in status
    detail = _wait_for_text(page, "#segment-detail", "customers")
    assert "Segment 0" in detail and "What sets them apart" in detail
    _wait_for_plots(page, 3)  # sizes, profiles, map


def test_explain_a_customer(page, app_url):
    page.goto(app_url)
    page.get_by_role("tab", name="Customer").click()
    _text_box(page, "customer-id").fill(CUSTOMER)
    page.locator("#explain").click()
    summary = _wait_for_text(page, "#customer-summary", "churn risk")
    assert CUSTOMER in summary and "Segment" in summary
    explanation = _wait_for_text(page, "#explanation", "from the facts above")
    assert CUSTOMER in explanation or "segment" in explanation.lower()
    _wait_for_plots(page, 5)  # and on this tab: membership, customer vs segment
    _text_box(page, "customer-id").fill("NO-SUCH-CUSTOMER")
    page.locator("#explain").click()
    assert "No customer with id" in _wait_for_text(page, "#customer-summary", "No customer")


def test_generate_a_brief(page, app_url):
    page.goto(app_url)
    page.get_by_role("tab", name="Campaign brief").click()
    page.locator("#write-brief").click()
    brief = _wait_for_text(page, "#brief-text", "from the facts above", SLOW_MS)
    assert "customers" in brief.lower()
    link = page.locator("a[download], a[href*='brief-segment']").first
    link.wait_for(timeout=30_000)
    assert "brief-segment" in (link.get_attribute("href") or link.inner_text())


def test_errors_say_what_to_do_next(browser, tmp_path):
    """An empty database and a stopped LLM server: messages in the page, no stack trace."""
    from segassist.ui.services import Services
    from segassist.warehouse.db import migrate, open_engine

    engine = open_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    app, url = _start(Services(engine, None, dead_llm, tmp_path / "exports"))
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        _text_box(page, "question").fill("How many customers?")
        page.locator("#ask").click()
        said = _wait_for_text(page, "#chatbot", "segassist llm serve")
        assert "No LLM server answers" in said and "Traceback" not in said
        page.get_by_role("tab", name="Segments").click()
        assert "Import data first" in _wait_for_text(page, "#segments-status", "no customers")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "errors.png"), full_page=True)
    finally:
        context.close()
        app.close()


def test_while_the_assistant_starts_the_chat_waits_and_turns_on_by_itself(
    browser, trained_amazon, tmp_path
):
    """make demo's UI comes up before the LLM engine is built: the Segments tab works, the
    chat says the assistant is starting and is off, and turns on when it is ready."""
    from segassist.ui.services import AssistantStartup, Services

    engine, _ = trained_amazon
    startup = AssistantStartup("building the LLM engine")
    dead_llm = f"http://127.0.0.1:{free_port()}/v1"
    app, url = _start(Services(engine, None, dead_llm, tmp_path / "exports", startup=startup))
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        said = _wait_for_text(page, "#assistant-status", "still starting")
        assert "building the LLM engine" in said and "turns on by itself" in said
        assert _text_box(page, "question").is_disabled()
        assert page.locator("#ask").is_disabled()
        page.get_by_role("tab", name="Segments").click()
        _wait_for_plots(page, 1)  # the other tabs work meanwhile
        page.get_by_role("tab", name="Chat").click()
        startup.ready = True
        page.wait_for_function(
            "() => !document.querySelector('#question textarea, #question input').disabled",
            timeout=30_000,
        )
        assert not page.locator("#ask").is_disabled()
        assert not page.locator("#assistant-status").is_visible()
    finally:
        context.close()
        app.close()


def test_with_a_password_the_browser_logs_in_before_anything_loads(browser, tmp_path):
    """The login page renders and works behind the middleware that refuses every other
    route before login (see test_ui_access for the routes)."""
    from segassist.ui.app import serve
    from segassist.ui.services import Services
    from segassist.warehouse.db import migrate, open_engine

    engine = open_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    port = free_port()
    services = Services(engine, None, "http://127.0.0.1:9/v1", tmp_path / "exports")
    app = serve(services, "127.0.0.1", port, "ana", "pw", prevent_thread_lock=True, quiet=True)
    try:
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_label("username").fill("ana")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        page.get_by_text("Incorrect Credentials").wait_for(timeout=30_000)
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_label("username").fill("ana")
        page.get_by_label("password").fill("pw")
        page.get_by_role("button", name="Login").click()
        page.get_by_role("tab", name="Segments").wait_for(timeout=60_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "after-login.png"))
        page.close()
    finally:
        app.close()
