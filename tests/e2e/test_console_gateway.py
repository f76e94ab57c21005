"""The console through the nginx gateway (deploy/nginx.conf): one origin for the page,
both services and Socket.IO, found without being told."""
import pytest
from playwright.sync_api import expect

from tests.e2e.pages import DESKTOP, register, shot
from tests.gateway_support import Nginx


@pytest.fixture(scope="module")
def gateway(stack, tmp_path_factory):
    nginx = Nginx(tmp_path_factory.mktemp("console-gateway"), [stack.auth_port],
                  [stack.realtime_port]).start()
    yield nginx
    nginx.stop()


@pytest.mark.parametrize("path", ["/", "/realtime-service/"])
def test_ride_request_through_the_gateway(open_page, gateway, path):
    page = open_page(DESKTOP, url=gateway.url + path)
    expect(page.locator("#auth-url")).to_have_text(gateway.url)
    expect(page.locator("#auth-status")).to_have_text("reachable")
    rider = register(page, "rider", "Gita")
    captain = register(page, "captain", "Gopal", captain=True)

    captain.locator("[data-action=toggle-status]").click()
    expect(captain.locator("[data-field=status]")).to_have_text("active")
    captain.locator("[data-action=near-pickup]").click()
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(captain.locator("[data-field=location-ack]")).to_contain_text("Location sent")
    rider.locator("[data-form=fare] button[type=submit]").click()
    rider.locator("[data-form=request] button[type=submit]").click()
    captain.locator("[data-field=requests] [data-action=accept]").click()

    expect(rider.locator("[data-field=ride] [data-field=ride-status]")).to_have_text("accepted")
    expect(rider.locator("[data-field=captain-name]")).to_have_text("Gopal Tester")
    # Each panel leaves the ride closed for the next run on the shared database.
    rider.locator("[data-action=cancel-ride]").click()
    expect(captain.locator("[data-field=current] [data-field=ride-status]")).to_have_text(
        "cancelled")
    if path == "/":
        shot(page, "gateway-desktop")
