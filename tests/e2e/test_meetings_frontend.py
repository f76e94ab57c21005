"""The video-meeting tutorial's frontend, built unchanged (tests/e2e/meetings_frontend.py)
and served by the gateway (FRONTEND_DIR), driven in Debian's chromium with fake camera
and microphone: two users sign up and log in, join one meeting and see each other's
video playing over WebRTC (signaled through Ridewire), chat; a guest who joins late
gets the earlier messages and sees both; a leaver's tile goes away; the history page
lists the meeting.

The first run clones the tutorial and runs `npm ci` and `npm run build` (network to
GitHub and the npm registry, a few minutes); later runs take the build from the cache.
Marked `frontend` and left out of `make test`: it needs the tutorial's repository, which
CI cannot reach; run it with `make test PYTEST_ARGS="-m frontend"`."""
import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e import meetings_frontend
from tests.e2e.pages import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP
from tests.gateway_stack import start_stack, stop_stack
from tests.harness import free_port

pytestmark = [pytest.mark.frontend, pytest.mark.timeout(1800)]

CODE = "aljk23"  # the meeting of the landing page's "Join as Guest"
PASSWORD = "secret123"
MEDIA_ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"]
MEDIA_MS = 45_000  # ICE and the first frames on a loaded 2-core machine
PLAYING = """count => {
    const tiles = [...document.querySelectorAll('video[data-socket]')];
    return tiles.length === count
        && tiles.every(video => video.readyState >= 2 && video.videoWidth > 0);
}"""


@pytest.fixture(scope="module")
def site(mongo_uri, tmp_path_factory):
    """The gateway serving a copy of the build made for its own origin."""
    built = meetings_frontend.build()
    root = tmp_path_factory.mktemp("meetings-frontend")
    port = free_port()
    frontend = meetings_frontend.served_copy(built, f"http://127.0.0.1:{port}", root / "build")
    stack, processes = start_stack(mongo_uri, root, frontend_dir=frontend, gateway_port=port)
    yield stack
    stop_stack(processes)


@pytest.fixture(scope="module")
def media_browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        yield browser
        browser.close()


class Tab:
    """One browser profile on the frontend (its own localStorage and cookies)."""

    def __init__(self, browser, origin, name):
        self.origin, self.name = origin, name
        self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda error: self.errors.append(error))

    def sign_up_and_log_in(self, username):
        page = self.page
        page.goto(self.origin + "/auth")  # the gateway's fallback to index.html
        page.get_by_role("button", name="Sign Up").click()
        fields = page.locator("input[name=username]")  # Full Name, then Username
        fields.nth(0).fill(f"{self.name} Tester")
        fields.nth(1).fill(username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_text("User Registered")).to_be_visible()
        page.locator("input[name=username]").fill(username)  # back on Sign In
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        expect(page).to_have_url(self.origin + "/home")

    def join(self, code):
        self.page.get_by_label("Meeting Code").fill(code)
        self.page.get_by_role("button", name="Join", exact=True).click()
        expect(self.page).to_have_url(f"{self.origin}/{code}")
        self.connect()

    def connect(self):
        """The lobby: a name, then Connect."""
        self.page.get_by_label("Username").fill(self.name)
        self.page.get_by_role("button", name="Connect").click()
        expect(self.page.get_by_role("heading", name="Chat")).to_be_visible()

    def see_videos_playing(self, count):
        self.page.wait_for_function(PLAYING, arg=count, timeout=MEDIA_MS)

    def tiles(self):
        return self.page.locator("video[data-socket]").evaluate_all(
            "videos => videos.map(video => video.dataset.socket)")

    def say(self, text):
        self.page.get_by_label("Enter Your chat").fill(text)
        self.page.get_by_role("button", name="Send").click()

    def chat_shows(self, sender, text):
        expect(self.page.get_by_text(text, exact=True)).to_be_visible()
        expect(self.page.get_by_text(sender, exact=True).first).to_be_visible()

    def close(self):
        """Closed with a screenshot of where it was (tests/artifacts/)."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"meetings-{self.name}.png", full_page=True)
        self.context.close()


@pytest.fixture
def tabs(media_browser, site):
    opened = []

    def open_(name):
        tab = Tab(media_browser, site.url, name)
        opened.append(tab)
        return tab

    yield open_
    for tab in opened:
        tab.close()
    assert [(tab.name, error) for tab in opened for error in tab.errors] == []


def test_two_users_meet_chat_and_a_late_guest_gets_the_chat(tabs, site):
    alice, bob = tabs("Alice"), tabs("Bob")
    alice.sign_up_and_log_in("alice")
    bob.sign_up_and_log_in("bob")
    alice.join(CODE)
    bob.join(CODE)

    # Each sees the other's video playing, signaled through Ridewire.
    alice.see_videos_playing(1)
    bob.see_videos_playing(1)
    (bob_id,) = alice.tiles()

    alice.say("hello from alice")
    bob.say("hi from bob")
    for tab in (alice, bob):
        tab.chat_shows("Alice", "hello from alice")
        tab.chat_shows("Bob", "hi from bob")

    # A guest from the landing page joins late: the chat so far, both videos.
    carol = tabs("Carol")
    carol.page.goto(site.url + "/")
    carol.page.get_by_text("Join as Guest").click()
    expect(carol.page).to_have_url(f"{site.url}/{CODE}")
    carol.connect()
    carol.chat_shows("Alice", "hello from alice")
    carol.chat_shows("Bob", "hi from bob")
    carol.see_videos_playing(2)
    alice.page.wait_for_function("() => document.querySelectorAll('video[data-socket]')"
                                 ".length === 2", timeout=MEDIA_MS)
    (carol_id,) = set(alice.tiles()) - {bob_id}

    # Bob hangs up: his tile goes away for the others.
    bob.page.locator("[data-testid=CallEndIcon]").click()
    expect(bob.page).to_have_url(site.url + "/")
    expect(alice.page.locator(f"video[data-socket='{bob_id}']")).to_have_count(0)
    expect(alice.page.locator(f"video[data-socket='{carol_id}']")).to_have_count(1)
    expect(carol.page.locator("video[data-socket]")).to_have_count(1)

    # The history lists the meeting (one card per join of the account).
    alice.page.goto(site.url + "/history")
    expect(alice.page.get_by_text(f"Code: {CODE}").first).to_be_visible()
