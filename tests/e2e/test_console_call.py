"""The console's ride call in a real browser with a fake camera and microphone: the
rider and the captain of an accepted ride call each other through the realtime
service (`call-start`, `incoming-call`, `call-join`, `signal`), each sees the other's
video playing, the call survives the start of the ride and closes when it ends; a
declined call and a cancelled ride close it too."""
import re

from playwright.sync_api import expect

from tests.e2e.pages import log_entry, register, shot

MEDIA_MS = 45_000  # ICE and the first frames on a loaded 2-core machine
# The remote video of a panel has frames (a size) and plays: its time moves on.
PLAYING = """([panel, since]) => {
    const video = document.querySelector(`#panel-${panel} [data-field=remote-video]`);
    return Boolean(video) && video.readyState >= 2 && video.videoWidth > 0
        && !video.paused && video.currentTime > since;
}"""
CURRENT_TIME = """panel => document.querySelector(
    `#panel-${panel} [data-field=remote-video]`).currentTime"""


def accepted_ride(page):
    """A rider and an active captain on one page; the rider's ride, accepted by the
    captain: (rider panel, captain panel, the ride's OTP)."""
    rider = register(page, "rider", "Riya")
    captain = register(page, "captain", "Karan", captain=True)
    captain.locator("[data-action=toggle-status]").click()
    expect(captain.locator("[data-field=status]")).to_have_text("active")
    captain.locator("[data-action=near-pickup]").click()
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(captain.locator("[data-field=location-ack]")).to_contain_text("Location sent")
    rider.locator("[data-form=fare] button[type=submit]").click()
    expect(rider.locator("[data-fare=car]")).to_have_text(re.compile(r"^₹\d+$"))
    rider.locator("[data-form=request] button[type=submit]").click()
    card = rider.locator("[data-field=ride]")
    expect(card.locator("[data-field=ride-status]")).to_have_text("pending")
    # No call before a captain has accepted.
    expect(rider.locator("[data-box=call]")).to_be_hidden()
    otp = card.locator("[data-field=otp]").inner_text()
    captain.locator("[data-field=requests] li [data-action=accept]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("accepted")
    return rider, captain, otp


def see_each_other(page):
    """Each panel's remote video has frames and its time advances."""
    for panel in ("rider", "captain"):
        page.wait_for_function(PLAYING, arg=[panel, 0], timeout=MEDIA_MS)
        at = page.evaluate(CURRENT_TIME, panel)
        page.wait_for_function(PLAYING, arg=[panel, at], timeout=MEDIA_MS)


def call_closed(panel):
    """The panel's call is gone: no media panel, no remote video, the camera released."""
    expect(panel.locator("[data-field=media]")).to_be_hidden()
    expect(panel.locator("[data-field=remote-video]")).to_have_count(0)
    assert panel.locator("[data-field=local-video]").evaluate("video => video.srcObject") is None


def test_rider_and_captain_see_each_other_until_the_ride_ends(open_page):
    page = open_page()
    rider, captain, otp = accepted_ride(page)
    ride_id = rider.locator("[data-field=ride-id]").inner_text()

    # The rider calls; the captain is rung with the ride's id and the rider's name.
    rider.locator("[data-action=call]").click()
    expect(rider.locator("[data-field=call-status]")).to_have_text("Ringing your captain…")
    incoming = captain.locator("[data-field=incoming]")
    expect(incoming).to_contain_text(f"Riya Tester is calling about ride {ride_id}")
    expect(log_entry(page, "captain", "incoming-call")).to_have_count(1)
    expect(log_entry(page, "rider", "incoming-call")).to_have_count(0)

    # The captain answers: both see the other's video playing, peer to peer.
    captain.locator("[data-action=answer]").click()
    expect(incoming).to_be_hidden()
    see_each_other(page)
    for panel in (rider, captain):
        expect(panel.locator("[data-field=call-status]")).to_have_text("Connected")
        expect(panel.locator("[data-action=call]")).to_be_hidden()
        expect(panel.locator("[data-field=call-note]")).to_be_hidden()  # nothing went wrong
    expect(rider.locator(".tile figcaption").last).to_have_text("Karan Tester")
    expect(log_entry(page, "rider", "call-member-joined")).to_have_count(1)
    assert log_entry(page, "captain", "signal").count() > 0  # the rider's answer, candidates
    shot(page, "ride-call")

    # Starting the ride keeps the call.
    captain.locator("input[name=otp]").fill(otp)
    captain.locator("[data-form=start] button").click()
    expect(captain.locator("[data-field=current] [data-field=ride-status]")).to_have_text(
        "ongoing")
    see_each_other(page)

    # Ending the ride closes the call for both: the panel goes away.
    captain.locator("[data-action=end]").click()
    expect(rider.locator("[data-field=ride] [data-field=ride-status]")).to_have_text(
        "completed")
    for name, panel in (("rider", rider), ("captain", captain)):
        expect(panel.locator("[data-box=call]")).to_be_hidden()
        call_closed(panel)
        expect(log_entry(page, name, "call-ended")).to_have_count(1)
        assert '"ride-ended"' in log_entry(page, name, "call-ended").inner_text()


def test_a_declined_call_and_a_cancelled_ride_close_the_call(open_page):
    page = open_page()
    rider, captain, _ = accepted_ride(page)

    # The captain calls and the rider declines: the captain's call closes.
    captain.locator("[data-action=call]").click()
    expect(captain.locator("[data-field=call-status]")).to_have_text("Ringing your rider…")
    rider.locator("[data-action=decline]").click()
    expect(rider.locator("[data-field=incoming]")).to_be_hidden()
    expect(captain.locator("[data-field=call-note]")).to_have_text("The call ended")
    call_closed(captain)
    expect(captain.locator("[data-action=call]")).to_be_visible()

    # The captain calls again, the rider answers; the rider hangs up: closed for both.
    captain.locator("[data-action=call]").click()
    rider.locator("[data-action=answer]").click()
    expect(rider.locator("[data-field=call-status]")).to_have_text("Connected", timeout=45_000)
    rider.locator("[data-action=hang-up]").click()
    expect(rider.locator("[data-field=call-note]")).to_have_text("You hung up")
    expect(captain.locator("[data-field=call-note]")).to_have_text("The call ended")
    call_closed(rider)
    call_closed(captain)

    # A third call, then the captain cancels the ride: the call closes with it.
    rider.locator("[data-action=call]").click()
    captain.locator("[data-action=answer]").click()
    expect(captain.locator("[data-field=media]")).to_be_visible()
    captain.locator("[data-action=cancel]").click()
    for name, panel in (("rider", rider), ("captain", captain)):
        expect(panel.locator("[data-box=call]")).to_be_hidden()
        call_closed(panel)
        expect(log_entry(page, name, "call-ended").first).to_contain_text("ride-cancelled")
