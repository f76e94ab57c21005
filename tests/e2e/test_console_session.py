"""The console's sessions in a real browser: a tab reload keeps each panel signed in
(refreshing an access token the server refuses), a revoked session is closed, and a
link naming another auth service gets it neither a password nor a token."""
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.pages import register

SAVED = "JSON.parse(sessionStorage.getItem('ridewire.console.{panel}'))"


def saved(page, panel):
    return page.evaluate(SAVED.format(panel=panel))


def test_reload_keeps_each_panel_signed_in_and_refreshes_a_bad_token(open_page):
    page = open_page()
    register(page, "rider", "Riya")
    captain = register(page, "captain", "Karan", captain=True)
    before = saved(page, "captain")
    # An access token the server refuses: the page must use its refresh token.
    page.evaluate(f"""(() => {{
        const data = {SAVED.format(panel="captain")};
        data.token = data.token.slice(0, -4) + "AAAA";
        sessionStorage.setItem("ridewire.console.captain", JSON.stringify(data));
    }})()""")

    page.reload()

    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#panel-rider [data-field=name]")).to_have_text("Riya Tester")
    expect(captain.locator("[data-field=name]")).to_have_text("Karan Tester")
    expect(captain.locator("[data-socket]")).to_have_attribute("data-state", "on")
    after = saved(page, "captain")
    assert after["token"] != before["token"]
    assert after["refreshToken"] != before["refreshToken"]
    expect(page.locator("#log li[data-source=captain][data-event='token refreshed']")) \
        .to_have_count(1)


def test_revoked_session_is_closed_in_the_page(open_page, stack):
    page = open_page()
    rider = register(page, "rider", "Riya")
    token = saved(page, "rider")["token"]

    response = requests.post(f"{stack.auth}/users/logout-all",
                             headers={"Authorization": f"Bearer {token}"}, timeout=5)

    assert response.status_code == 200
    # The socket's session-revoked, or an HTTP call refused first (the watcher polls):
    # either way the page says so and ends the session.
    expect(rider.locator("[data-field=error]")).to_contain_text(
        re.compile("Session revoked|Token has been revoked"))
    expect(rider.locator("[data-form=auth]")).to_be_visible()
    expect(rider.locator("[data-socket]")).to_have_attribute("data-state", "off")
    assert saved(page, "rider") is None


class Recorder(BaseHTTPRequestHandler):
    """An attacker's server: records every request and lets any page read its answers
    (CORS preflights included), as a server made to collect credentials would."""

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.got.append((self.command, self.path, self.headers.get("Authorization"),
                                self.rfile.read(length)))
        self.send_response(200)
        for name, value in (("Access-Control-Allow-Origin", self.headers.get("Origin", "*")),
                            ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
                            ("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT"),
                            ("Content-Type", "application/json"), ("Content-Length", "2")):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_OPTIONS = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def attacker():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.got = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_link_naming_another_auth_service_gets_it_nothing(open_page, stack, attacker):
    """`/?auth=<attacker>` in a tab with a session, then a login typed there: neither
    the session's tokens nor the typed password leave for the attacker's server."""
    page = open_page()
    register(page, "rider", "Riya")

    page.goto(f"{stack.realtime}/?auth={attacker.url}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    chat = page.locator("#panel-chat")
    chat.locator("input[name=email]").fill("victim@example.com")
    chat.locator("input[name=password]").fill("the-victims-password")
    chat.locator("[data-field=auth-submit]").click()
    page.wait_for_timeout(1500)

    assert attacker.got == []
    expect(chat.locator("[data-field=error]")).to_have_text("401: Invalid email or password")
    expect(page.locator("#auth-url")).to_have_text(stack.auth)
    expect(page.locator("#panel-rider [data-field=name]")).to_have_text("Riya Tester")
