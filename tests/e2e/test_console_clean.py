"""The console leaves the browser's devtools clean: loading it (served by the realtime
service, or through either gateway), signing in and restoring the session on a reload
logs no console error or warning, fails no request and gets no answer of 400 or more.
A ride's OTP is shown only until the captain has started the ride."""
import re

import pytest
import requests
from playwright.sync_api import expect

from tests.devgateway_support import FrontNginx, dev_gateway, make_frontend
from tests.e2e.pages import DESKTOP, register

QUIET_MS = 1000


class Devtools:
    """What the devtools would show for one page: console errors and warnings, script
    errors, failed requests, and answers with a status of 400 or more. A request of a
    document the page has navigated away from (a reload) that the navigation cancels is
    not a problem: devtools shows it as "(canceled)", the browser's own doing."""

    def __init__(self, page):
        self.reported = []
        self.failures = []
        self.documents = 0
        self.started_in = {}
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.reported.append(f"script error: {error}"))
        page.on("framenavigated", self.on_navigated)
        page.on("request", self.on_request)
        page.on("requestfailed", self.on_failed)
        page.on("response", self.on_response)

    @property
    def problems(self):
        return self.reported + [
            text for document, text, error in self.failures
            if not (error == "net::ERR_ABORTED" and document < self.documents)]

    def on_navigated(self, frame):
        if frame.parent_frame is None:
            self.documents += 1

    def on_request(self, request):
        self.started_in[request] = self.documents + request.is_navigation_request()

    def on_failed(self, request):
        self.failures.append((self.started_in.get(request, self.documents),
                              f"failed: {request.method} {request.url} ({request.failure})",
                              request.failure))

    def on_console(self, message):
        if message.type in {"error", "warning"}:
            self.reported.append(f"console {message.type}: {message.text}")

    def on_response(self, response):
        if response.status >= 400:
            self.reported.append(f"{response.status}: {response.request.method} {response.url}")


@pytest.fixture
def watched_page(browser, db):
    """`watched_page(url)`: the console at `url` in a fresh context, with its Devtools
    recording from before the first request."""
    contexts = []

    def open_(url):
        context = browser.new_context(viewport=DESKTOP)
        contexts.append(context)
        page = context.new_page()
        devtools = Devtools(page)
        page.goto(url)
        settle(page)
        return page, devtools

    yield open_
    for context in contexts:
        context.close()


def settle(page):
    """Wait until the page has started and checked the auth service, then a little for
    what comes late (the favicon; a socket's upgrade to a websocket). Not "networkidle":
    a Socket.IO long-poll keeps a request open for up to its ping interval."""
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#auth-status")).to_have_text("reachable")
    page.wait_for_timeout(QUIET_MS)


def assert_clean_load_and_restore(watched_page, url):
    """A first load (no stored session), a sign-in, then a reload that restores it."""
    page, devtools = watched_page(url)
    assert devtools.problems == [], "first load"
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    answer = requests.get(icon, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("image/svg")

    rider = register(page, "rider", "Dora")
    page.reload()
    settle(page)
    expect(rider.locator("[data-field=name]")).to_have_text("Dora Tester")
    expect(rider.locator("[data-socket]")).to_have_attribute("data-state", "on")
    page.wait_for_timeout(QUIET_MS)
    assert devtools.problems == [], "sign-in and restore"


def test_direct_load_and_restore_are_clean(watched_page, stack):
    """The page finds the auth service at AUTH_PORT (the server says) without a probe."""
    assert_clean_load_and_restore(watched_page, f"{stack.realtime}/")


@pytest.fixture(scope="module", params=["dev-beside-frontend", "nginx-alone"])
def gateway(request, stack, tmp_path_factory):
    """The URLs of the console through a gateway: at /console/ beside a frontend and
    under /realtime-service/ (`make run`'s gateway), or at / (nginx; its
    /realtime-service/ location passes no websocket upgrade, so a socket there stays on
    long-polling after a failed handshake that devtools shows)."""
    directory = tmp_path_factory.mktemp(f"clean-{request.param}")
    if request.param == "dev-beside-frontend":
        child = dev_gateway(directory, stack.auth_port, stack.realtime_port,
                            dist=make_frontend(directory), port=stack.gateway_ports[0]).start()
        paths = ["/console/", "/realtime-service/"]
    else:
        child = FrontNginx(directory, stack.auth_port, stack.realtime_port,
                           port=stack.gateway_ports[1]).start()
        paths = ["/"]
    yield [child.url + path for path in paths]
    child.stop()


def test_load_and_restore_through_a_gateway_are_clean(watched_page, gateway):
    for url in gateway:
        assert_clean_load_and_restore(watched_page, url)


@pytest.mark.parametrize("headers, auth", [
    ({}, "http://localhost:5001"), ({"X-Forwarded-For": "10.0.0.1"}, ""),
    ({"Forwarded": "for=10.0.0.1"}, ""),
])
def test_page_says_where_the_auth_service_is(realtime_client, headers, auth):
    """Behind a gateway the page calls the auth service on its own origin, unprobed."""
    for path in ("/", "/console/"):
        html = realtime_client.get(path, headers=headers).get_data(as_text=True)
        assert f'<meta name="ridewire-auth-url" content="{auth}">' in html, path


def test_otp_is_shown_only_until_the_ride_starts(open_page):
    page = open_page()
    rider = register(page, "rider", "Ola")
    captain = register(page, "captain", "Omar", captain=True)
    captain.locator("[data-action=toggle-status]").click()
    expect(captain.locator("[data-field=status]")).to_have_text("active")
    captain.locator("[data-action=near-pickup]").click()
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(captain.locator("[data-field=location-ack]")).to_contain_text("Location sent")

    card = rider.locator("[data-field=ride]")
    otp = request_ride(rider)
    captain.locator("[data-field=requests] [data-action=accept]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("accepted")
    expect(card.locator("[data-field=otp]")).to_have_text(otp)
    captain.locator("input[name=otp]").fill(otp)
    captain.locator("[data-form=start] button").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("ongoing")
    expect(card).not_to_contain_text("OTP")
    captain.locator("[data-action=end]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("completed")
    expect(card).not_to_contain_text("OTP")
    expect(card).not_to_contain_text("tell it to your captain")

    # A cancelled ride has no OTP to tell either.
    request_ride(rider)
    rider.locator("[data-action=cancel-ride]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("cancelled")
    expect(card).not_to_contain_text("OTP")


def request_ride(rider):
    """Fares, then a car: the pending ride's OTP, shown to the rider."""
    rider.locator("[data-form=fare] button[type=submit]").click()
    expect(rider.locator("[data-fare=car]")).to_have_text(re.compile(r"^₹\d+$"))
    rider.locator("[data-form=request] button[type=submit]").click()
    card = rider.locator("[data-field=ride]")
    expect(card.locator("[data-field=ride-status]")).to_have_text("pending")
    expect(card).to_contain_text("tell it to your captain")
    otp = card.locator("[data-field=otp]").inner_text()
    assert re.fullmatch(r"\d{6}", otp)
    return otp
