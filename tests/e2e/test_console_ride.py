"""The console in a real browser: a full ride with rider and captain on one page, the
phone layout, and errors shown to the person."""
import re

from playwright.sync_api import expect

from tests.e2e.pages import PHONE, log_entry, register, shot, tab


def test_full_ride_in_one_page(open_page):
    page = open_page()
    rider = register(page, "rider", "Riya")
    captain = register(page, "captain", "Karan", captain=True)

    # The captain goes on duty near the rider's pickup.
    captain.locator("[data-action=toggle-status]").click()
    expect(captain.locator("[data-field=status]")).to_have_text("active")
    captain.locator("[data-action=near-pickup]").click()
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(captain.locator("[data-field=location-ack]")).to_contain_text("Location sent")

    # The rider gets fares and requests a car.
    rider.locator("[data-form=fare] button[type=submit]").click()
    expect(rider.locator("[data-fare=car]")).to_have_text(re.compile(r"^₹\d+$"))
    rider.locator("[data-form=request] button[type=submit]").click()
    ride_card = rider.locator("[data-field=ride]")
    expect(ride_card.locator("[data-field=ride-status]")).to_have_text("pending")
    expect(ride_card.locator("[data-field=search]")).to_have_text(
        "Searching: round 1, offered to 1 captain(s)")
    otp = ride_card.locator("[data-field=otp]").inner_text()
    assert len(otp) == 6 and otp.isdigit()

    # The captain sees new-ride (without the OTP) and accepts it.
    request = captain.locator("[data-field=requests] li")
    expect(request).to_have_count(1)
    requests_badge = page.locator("#tabs [data-tab=captain] [data-requests]")
    expect(requests_badge).to_have_text("1")
    expect(request.locator("[data-field=otp]")).to_have_count(0)
    request.locator("[data-action=accept]").click()
    expect(request).to_have_count(0)
    expect(requests_badge).to_be_hidden()
    current = captain.locator("[data-field=current]")
    expect(current.locator("[data-field=ride-status]")).to_have_text("accepted")
    expect(current).not_to_contain_text(otp)

    # The rider sees ride-confirmed with the captain and the vehicle.
    expect(ride_card.locator("[data-field=ride-status]")).to_have_text("accepted")
    expect(ride_card.locator("[data-field=captain-name]")).to_have_text("Karan Tester")
    expect(log_entry(page, "rider", "ride-confirmed")).to_have_count(1)

    # During the ride, rider and captain can chat.
    captain_contact = rider.locator(".contact", has_text="Karan Tester")
    expect(captain_contact.locator(".pill")).to_have_text("captain")
    captain_contact.click()
    rider.locator("[data-form=send] input[name=text]").fill("At the main gate")
    rider.locator("[data-form=send] button").click()
    rider_contact = captain.locator(".contact", has_text="Riya Tester")
    expect(rider_contact.locator(".badge")).to_have_text("1")
    rider_contact.click()
    expect(captain.locator("[data-field=messages] li.theirs .text")).to_have_text(
        "At the main gate")
    expect(rider.locator("[data-field=messages] li.mine .mark")).to_have_attribute(
        "data-seen", "true")

    # A wrong OTP is refused; the rider's OTP starts the ride.
    wrong = "000000" if otp != "000000" else "111111"
    captain.locator("input[name=otp]").fill(wrong)
    captain.locator("[data-form=start] button").click()
    expect(captain.locator("[data-field=error]")).to_contain_text("400")
    expect(current.locator("[data-field=ride-status]")).to_have_text("accepted")
    captain.locator("input[name=otp]").fill(otp)
    captain.locator("[data-form=start] button").click()
    expect(current.locator("[data-field=ride-status]")).to_have_text("ongoing")
    expect(ride_card.locator("[data-field=ride-status]")).to_have_text("ongoing")

    # Live location reaches the rider.
    captain.locator("input[name=lat]").fill("12.9600")
    captain.locator("input[name=lng]").fill("77.6100")
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(ride_card.locator("[data-field=captain-location]")).to_contain_text(
        "12.96000, 77.61000")
    expect(log_entry(page, "rider", "captain-location")).to_have_count(1)

    # "Drive" sends a location every second, closer to the destination each time.
    captain.locator("[data-action=drive]").click()
    expect(log_entry(page, "rider", "captain-location").nth(2)).to_be_attached()
    captain.locator("[data-action=drive]").click()
    expect(captain.locator("[data-action=drive]")).to_have_text("Drive")
    expect(ride_card.locator("[data-field=captain-location]")).not_to_contain_text(
        "12.96000, 77.61000")
    shot(page, "ride-ongoing-desktop")

    captain.locator("[data-action=end]").click()
    expect(current.locator("[data-field=ride-status]")).to_have_text("completed")
    expect(ride_card.locator("[data-field=ride-status]")).to_have_text("completed")
    for event in ("new-ride", "ride-started", "ride-ended"):
        source = "captain" if event == "new-ride" else "rider"
        expect(log_entry(page, source, event)).to_have_count(1)
    shot(page, "ride-completed-desktop")

    # The log can be narrowed to one event.
    page.locator("#log-filter").fill("ride-ended")
    expect(page.locator("#log li:visible")).to_have_count(2)
    page.locator("#log-filter").fill("")

    # The rider's own history has the ride.
    rider.locator("[data-action=activity]").click()
    expect(rider.locator("pre[data-field=profile]")).to_contain_text('"ride-completed"')

    # Logging out closes the panel's socket and shows the sign-in form again.
    rider.locator("[data-action=logout]").click()
    expect(rider.locator("[data-form=auth]")).to_be_visible()
    expect(rider.locator("[data-socket]")).to_have_attribute("data-state", "off")


def test_phone_layout_shows_one_panel_at_a_time(open_page):
    page = open_page(PHONE)
    expect(page.locator("#tabs")).to_be_visible()
    expect(page.locator("#panel-rider")).to_be_visible()
    expect(page.locator("#panel-captain")).to_be_hidden()
    register(page, "captain", "Meera", captain=True)
    expect(page.locator("#panel-rider")).to_be_hidden()
    shot(page, "captain-phone")
    for name in ("rider", "captain", "chat", "log"):
        tab(page, name)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the {name} tab scrolls sideways on a phone"


def test_bad_login_and_unreachable_auth_are_reported(open_page, stack):
    page = open_page()
    rider = page.locator("#panel-rider")
    rider.locator("input[name=email]").fill("nobody@ex.io")
    rider.locator("input[name=password]").fill("wrong-password")
    rider.locator("[data-field=auth-submit]").click()
    expect(rider.locator("[data-field=error]")).to_have_text(
        "401: Invalid email or password")

    page.route(f"{stack.auth}/**", lambda route: route.abort())  # the service goes away
    rider.locator("[data-field=auth-submit]").click()
    expect(rider.locator("[data-field=error]")).to_contain_text("Cannot reach")
    page.reload()
    expect(page.locator("#auth-status")).to_have_text("unreachable")


def test_auth_service_is_found_on_this_host_at_auth_port(open_page, stack):
    page = open_page(url=f"{stack.realtime}/")

    expect(page.locator("#auth-url")).to_have_text(f"http://127.0.0.1:{stack.auth_port}")
    expect(page.locator("#auth-status")).to_have_text("reachable")
