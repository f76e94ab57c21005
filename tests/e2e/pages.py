"""Helpers to drive the console page. Screenshots go to tests/artifacts/."""
import uuid
from pathlib import Path

from playwright.sync_api import expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-domain-reliability", "--disable-client-side-phishing-detection",
                 "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
                 # a fake camera and microphone that need no prompt (the call tests)
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 15_000  # generous for a loaded 2-core CI machine


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"console-{name}.png", full_page=True)


def tab(page, name):
    """On a phone-sized screen, switch to a panel's tab (on a wide one all are shown)."""
    button = page.locator(f"#tabs [data-tab={name}]")
    if button.is_visible():
        button.click()


def register(page, panel_name, firstname, captain=False):
    tab(page, panel_name)
    panel = page.locator(f"#panel-{panel_name}")
    panel.locator("[data-mode=register]").click()
    panel.locator("input[name=firstname]").fill(firstname)
    panel.locator("input[name=lastname]").fill("Tester")
    panel.locator("input[name=email]").fill(f"{firstname.lower()}-{uuid.uuid4().hex[:8]}@ex.io")
    panel.locator("input[name=password]").fill("secret-pass")
    if captain:
        panel.locator("input[name=plate]").fill(f"KA-{uuid.uuid4().hex[:6]}")
    panel.locator("[data-field=auth-submit]").click()
    expect(panel.locator("[data-box=profile] [data-field=name]")).to_have_text(
        f"{firstname} Tester")
    expect(panel.locator("[data-socket]")).to_have_attribute("data-state", "on")
    return panel


def log_entry(page, source, event):
    return page.locator(f"#log li[data-source={source}][data-event={event}]")
