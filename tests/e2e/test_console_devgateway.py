"""The console at /console/ on one origin with a frontend at `/`: through `make run`'s
gateway (FRONTEND_DIR set) and through the nginx gateway. The page finds both services
on its origin and its socket connects, unasked."""
import re

import pytest
from playwright.sync_api import expect

from tests.devgateway_support import FrontNginx, dev_gateway, make_frontend
from tests.e2e.pages import DESKTOP, register


@pytest.fixture(scope="module", params=["dev", "nginx"])
def gateway(request, stack, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"console-{request.param}")
    make = dev_gateway if request.param == "dev" else FrontNginx
    child = make(directory, stack.auth_port, stack.realtime_port,
                 dist=make_frontend(directory)).start()
    yield child
    child.stop()


def test_console_under_console_beside_a_frontend(open_page, gateway, browser):
    context = browser.new_context()
    try:
        root = context.new_page()
        root.goto(gateway.url + "/")
        expect(root).to_have_title("the app")  # tests.devgateway_support.FILES
    finally:
        context.close()
    page = open_page(DESKTOP, url=gateway.url + "/console/")
    expect(page.locator("#auth-url")).to_have_text(gateway.url)
    expect(page.locator("#auth-status")).to_have_text("reachable")
    expect(page.locator("#rt-url")).to_have_text(gateway.url)
    rider = register(page, "rider", "Hema")
    rider.locator("[data-form=fare] button[type=submit]").click()
    expect(rider.locator("[data-fare=car]")).to_have_text(re.compile(r"^₹\d+$"))
