"""A small page of our own served by the gateway (FRONTEND_DIR), written the way the
tutorial frontends are: its socket connects anonymously at load (`io()`, no token),
the page then logs in over HTTP and emits the tutorials' `join`; the server closes the
anonymous transport, socket.io-client reconnects by itself with the HttpOnly cookie the
login set, and pushes for the account reach the page. Debian's chromium, headless."""
import shutil
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_user, token_for
from tests.gateway_stack import start_stack, stop_stack

VENDOR = Path(__file__).parents[2] / "realtime_service" / "console" / "static" / "vendor"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>compat page</title>
<script src="/socket.io.min.js"></script></head>
<body><pre id="log"></pre><script src="/page.js"></script></body></html>
"""
SCRIPT = """
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
const socket = io();  // like the Uber clone: at load, before any login, no token
socket.on("connect", () => log("connected"));
socket.on("disconnect", (reason) => log("disconnected: " + reason));
socket.on("connect_error", (error) => log("connect_error: " + error.message));
socket.on("newMessage", (message) => log("newMessage: " + message.text));
window.login = async (email, password) => {
  const response = await fetch("/users/login", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({email, password})});
  const body = await response.json();
  socket.emit("join", {userId: body.user._id, userType: "user"});
  return response.status;
};
"""


@pytest.fixture(scope="module")
def site(mongo_uri, tmp_path_factory):
    root = tmp_path_factory.mktemp("compat-page")
    frontend = root / "dist"
    frontend.mkdir()
    (frontend / "index.html").write_text(PAGE)
    (frontend / "page.js").write_text(SCRIPT)
    shutil.copy(VENDOR / "socket.io.min.js", frontend / "socket.io.min.js")
    stack, processes = start_stack(mongo_uri, root, frontend_dir=frontend)
    yield stack
    stop_stack(processes)


def test_an_anonymous_page_socket_is_authenticated_by_the_login_cookie(site, browser, db):
    alice, bob = make_user(db), make_user(db)
    context = browser.new_context()
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        page.goto(site.url + "/home")  # an app route: the gateway's SPA fallback
        log = page.locator("#log")
        expect(log).to_contain_text("connected")
        assert page.evaluate("([email, password]) => login(email, password)",
                             [alice["email"], PASSWORD]) == 200
        expect(log).to_contain_text("disconnected: transport")  # close or error: it reconnects
        page.wait_for_function(
            "document.getElementById('log').textContent.split('\\n')"
            ".filter(line => line === 'connected').length >= 2")
        response = requests.post(f"{site.url}/messages/send/{alice['_id']}",
                                 json={"text": "hello from bob"}, timeout=5,
                                 headers={"Authorization": f"Bearer {token_for(bob)}"})
        assert response.status_code == 201
        expect(log).to_contain_text("newMessage: hello from bob")
    finally:
        context.close()
    assert errors == []
