"""The console and the offer rounds in a real browser: the captain's offer shows its
countdown and leaves the list when declined, when it expires and when another captain
takes the ride; the rider sees the search's rounds, its end with no captain, and
requests again. Against services of their own with short offers and search
(OFFER_SECONDS, DISPATCH_TIMEOUT_SECONDS) and a database of their own, so that the
other console tests' realtime process never sweeps these rides."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import serve_stack, stop_stack
from tests.e2e.pages import log_entry, register, shot

OFFER_SECONDS = 5
SEARCH_SECONDS = 14
SEARCH_MS = (SEARCH_SECONDS + 15) * 1000  # the search's end, seen on a loaded machine
DATABASE = "ridewire_e2e_offers"


@pytest.fixture(scope="module")
def stack(mongo_server, db_client, tmp_path_factory):
    """This module's services (overrides the package's `stack`, so `open_page` uses it)."""
    served = serve_stack(mongo_server.uri(DATABASE), tmp_path_factory.mktemp("offers-e2e"),
                         OFFER_SECONDS=OFFER_SECONDS, DISPATCH_TIMEOUT_SECONDS=SEARCH_SECONDS,
                         DISPATCH_SWEEP_SECONDS=0.2)
    yield served
    stop_stack(served)
    db_client.drop_database(DATABASE)


def on_duty(captain):
    """The captain goes active and reports a position near the rider panel's pickup."""
    captain.locator("[data-action=toggle-status]").click()
    expect(captain.locator("[data-field=status]")).to_have_text("active")
    captain.locator("[data-action=near-pickup]").click()
    captain.locator("[data-form=location] button[type=submit]").click()
    expect(captain.locator("[data-field=location-ack]")).to_contain_text("Location sent")


def request_ride(rider):
    """The rider asks for a car; the ride card, pending."""
    if rider.locator("[data-form=request]").is_hidden():
        rider.locator("[data-form=fare] button[type=submit]").click()
        expect(rider.locator("[data-fare=car]")).to_have_text(re.compile(r"^₹\d+$"))
    rider.locator("[data-form=request] button[type=submit]").click()
    card = rider.locator("[data-field=ride]")
    expect(card.locator("[data-field=ride-status]")).to_have_text("pending")
    return card


def test_decline_expiry_and_the_end_of_the_search(open_page):
    page = open_page()
    rider = register(page, "rider", "Ravi")
    captain = register(page, "captain", "Kavya", captain=True)
    on_duty(captain)

    # The offer comes with its countdown; the rider sees the round.
    card = request_ride(rider)
    search = card.locator("[data-field=search]")
    expect(search).to_have_text("Searching: round 1, offered to 1 captain(s)")
    offer = captain.locator("[data-field=requests] li")
    expect(offer).to_have_count(1)
    expect(offer.locator("[data-field=countdown]")).to_have_text(
        re.compile(r"^Offer ends in [1-5] s$"))
    first_ride = card.locator("[data-field=ride-id]").inner_text()
    shot(page, "ride-offer-countdown")

    # Declined: the offer leaves the list; no one else is around, the search goes on.
    offer.locator("[data-action=decline-ride]").click()
    expect(offer).to_have_count(0)
    expect(captain.locator("[data-field=offer-note]")).to_contain_text("You declined the ride.")
    expect(page.locator("#tabs [data-tab=captain] [data-requests]")).to_be_hidden()
    expect(card.locator("[data-field=ride-status]")).to_have_text("pending")

    # DISPATCH_TIMEOUT_SECONDS later: no captain found; the rider may request again.
    expect(card.locator("[data-field=ride-status]")).to_have_text("expired", timeout=SEARCH_MS)
    expect(search).to_have_text(re.compile("^No captain accepted in time"))
    expect(card.locator("[data-field=otp]")).to_have_count(0)
    expect(log_entry(page, "rider", "ride-expired")).to_have_count(1)
    expect(rider.locator("[data-action=cancel-ride]")).to_have_count(0)
    shot(page, "ride-search-expired")

    # A new request is offered to the captain again; left unanswered, it expires.
    card = request_ride(rider)
    expect(card.locator("[data-field=ride-id]")).not_to_have_text(first_ride)
    expect(offer).to_have_count(1)
    expect(offer).to_have_count(0, timeout=SEARCH_MS)
    expect(captain.locator("[data-field=offer-note]")).to_contain_text("An offer expired.")
    expect(log_entry(page, "captain", "ride-offer-expired")).to_have_count(2)
    expect(card.locator("[data-field=ride-status]")).to_have_text("pending")
    rider.locator("[data-action=cancel-ride]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("cancelled")
    expect(search).to_have_count(0)


def test_an_offer_another_captain_took_leaves_the_list(open_page):
    page, other_page = open_page(), open_page()
    rider = register(page, "rider", "Rhea")
    captain = register(page, "captain", "Kabir", captain=True)
    other = register(other_page, "captain", "Kiran", captain=True)
    on_duty(captain)
    on_duty(other)

    card = request_ride(rider)
    expect(card.locator("[data-field=search]")).to_have_text(
        "Searching: round 1, offered to 2 captain(s)")
    other_offer = other.locator("[data-field=requests] li")
    expect(other_offer).to_have_count(1)
    captain.locator("[data-field=requests] li [data-action=accept]").click()
    expect(card.locator("[data-field=ride-status]")).to_have_text("accepted")
    expect(other_offer).to_have_count(0)
    expect(other.locator("[data-field=offer-note]")).to_contain_text(
        "Another captain took the ride.")
    expect(log_entry(other_page, "captain", "ride-taken")).to_have_count(1)
