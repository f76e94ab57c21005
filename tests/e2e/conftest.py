"""Fixtures of the console's end-to-end tests: Debian's chromium, headless, driven by
Playwright, against both services served as real processes."""
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import serve
from tests.e2e.pages import CHROMIUM, CHROMIUM_ARGS, DESKTOP, WAIT_MS

expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="package")
def stack(mongo_uri, tmp_path_factory):
    """Realtime first (its origin is the page's), then auth allowing that origin."""
    logs = tmp_path_factory.mktemp("console-e2e")
    realtime = serve("realtime_service", mongo_uri, logs)
    auth = serve("auth_service", mongo_uri, logs, CORS_ORIGINS=realtime.url)
    yield f"{realtime.url}/?auth={auth.url}"
    auth.stop()
    realtime.stop()


@pytest.fixture(scope="package")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, stack, db):
    """`open_page(viewport)`: a fresh browser context on the console; any script error
    on any page fails the test."""
    contexts, errors = [], []

    def open_(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(stack)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors
