"""Fixtures of the console's end-to-end tests: Debian's chromium, headless, driven by
Playwright, against both services served as real processes."""
import os
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect, sync_playwright

from devserver.processes import Service, start_together, stop_all
from tests.conftest import SESSION_STOP_SECONDS, service_env
from tests.e2e.pages import CHROMIUM, CHROMIUM_ARGS, DESKTOP, WAIT_MS
from tests.harness import free_port

expect.set_options(timeout=WAIT_MS)


def serve_stack(mongo_uri, logs, **realtime_settings):
    """Both services, the auth one allowing the realtime origin (the page's); started
    side by side to save a few seconds. `realtime_settings`: the realtime service's
    own (OFFER_SECONDS=...). Stop them with `stop_stack`."""
    auth_port, realtime_port = free_port(), free_port()
    realtime_url = f"http://127.0.0.1:{realtime_port}"
    # The gateways a test puts in front (`gateway_ports`): their origins are configured,
    # as a deployment's PUBLIC_URL is, for the socket origin check.
    gateway_ports = [free_port(), free_port()]
    gateways = ",".join(f"http://127.0.0.1:{port}" for port in gateway_ports)
    services = [
        Service("realtime_service", realtime_port,
                # AUTH_PORT: the page finds the auth service on it (the server says).
                service_env(mongo_uri, REALTIME_PORT=realtime_port, AUTH_PORT=auth_port,
                            CORS_ORIGINS=gateways, **realtime_settings),
                log_path=logs / "realtime.log"),
        Service("auth_service", auth_port,
                service_env(mongo_uri, AUTH_PORT=auth_port, CORS_ORIGINS=realtime_url),
                log_path=logs / "auth.log"),
    ]
    realtime, auth = start_together(services)
    return SimpleNamespace(page=f"{realtime.url}/", auth=auth.url,
                           realtime=realtime.url, auth_port=auth_port,
                           realtime_port=realtime_port, gateway_ports=gateway_ports,
                           services=services)


def stop_stack(stack):
    stop_all(stack.services, timeout=SESSION_STOP_SECONDS)


@pytest.fixture(scope="package")
def stack(mongo_uri, tmp_path_factory):
    """The services every console test uses (default settings)."""
    served = serve_stack(mongo_uri, tmp_path_factory.mktemp("console-e2e"))
    yield served
    stop_stack(served)


@pytest.fixture(scope="package")
def browser():
    assert os.path.exists(CHROMIUM), "needs chromium (apt-get install chromium; .ci/run does it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, stack, db):
    """`open_page(viewport, url)`: a fresh browser context on the console (by default
    served by the realtime service); any script error on any page fails the test."""
    contexts, errors = [], []

    def open_(viewport=DESKTOP, url=None):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(error))
        page.goto(url or stack.page)
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors
