"""The console's sessions in a real browser: a tab reload keeps each panel signed in
(refreshing an access token the server refuses), and a revoked session is closed."""
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
    expect(rider.locator("[data-field=error]")).to_contain_text("Session revoked")
    expect(rider.locator("[data-form=auth]")).to_be_visible()
    expect(rider.locator("[data-socket]")).to_have_attribute("data-state", "off")
    assert saved(page, "rider") is None
