"""Rides: fare estimates, requests offered to nearby captains in rounds, and the ride's
life (accept, decline, start with the rider's OTP, end, cancel), with its activity
entries and pushes; the ride's call (realtime_service.calls) closes when it ends or is
cancelled.

Functions return rides as their caller may see them (views.py): the stored ride with
`user` and `captain` expanded to public profiles, and the OTP only for the ride's own
rider. Every push goes through realtime_service.sockets.notifier, dumped with the schema
of its event. The offer rounds are in rounds.py, what a captain's state allows in
captain_states.py. Distances come from the configured router
(realtime_service.maps.service).
"""
import hmac

from flask import current_app
from pymongo.errors import DuplicateKeyError

from realtime_service.calls.service import close_ride_call
from realtime_service.maps.service import road_route
from realtime_service.rides import captain_states, locations, rides, rounds
from realtime_service.rides.fares import estimate, estimate_for
from realtime_service.rides.schemas import RideNotice
from realtime_service.rides.views import (
    push_to_captains,
    push_to_parties,
    record,
    seen_by,
    view_for,
    with_parties,
    without_otp,
)
from realtime_service.sockets import notifier
from shared.accounts.roles import Role
from shared.errors import BadRequest, Conflict, NotFound, TooManyRequests
from shared.serialize import now

BUSY = rides.BUSY  # a captain's open statuses (the chat rules use them too)
OPEN_RIDE = "You already have an open ride"
NOT_FOUND = rounds.NOT_FOUND
LOCKED = "Too many wrong OTPs for this ride"
NOTICE = RideNotice()


def open_ride_of_captain(captain_id):
    """The captain's accepted or ongoing ride (stored form), or None."""
    return rides.open_ride_of_captain(captain_id)


# The rules.

def fare_estimate(pickup, destination):
    """Distance, durations and the fare of every vehicle type of the fare table."""
    config = current_app.config
    return estimate(pickup, destination, config["FARES"], config["ROAD_FACTOR"],
                    road_route)


def request_ride(user_id, pickup, destination, vehicle_type, client=None):
    """`(ride, offered)`: a new ride, offered in its first round (rounds.py) to the best
    available captains near the pickup; `offered` is how many (0: none yet, the search
    goes on until DISPATCH_TIMEOUT_SECONDS). 409 when the rider has an open ride.
    `client` marks the frontend that asked, when its payloads differ (`add_ride_view`)."""
    config = current_app.config
    trip = estimate_for(pickup, destination, vehicle_type, config["FARES"],
                        config["ROAD_FACTOR"], road_route)
    state = rides.new_dispatch(now(), config["DISPATCH_RADIUS_KM"],
                               config["DISPATCH_TIMEOUT_SECONDS"])
    try:
        ride = rides.create(user_id, pickup, destination, vehicle_type, trip, state, client)
    except DuplicateKeyError:
        raise Conflict(OPEN_RIDE) from None
    record(ride, "ride-requested")
    ride = rounds.start(ride)
    offered = len(ride["dispatch"]["captains"]) if ride["dispatch"]["round"] == 1 else 0
    return with_parties([ride])[0], offered


def history(account_id, role, limit, before=None, status=None):
    """`(rides, next)`: the account's rides (of `status`, if given), newest first."""
    query = rides.party_filter(account_id, role)
    if status:
        query["status"] = status
    page, cursor = rides.page(query, limit, before)
    return [seen_by(view, account_id) for view in with_parties(page)], cursor


def party_ride(ride_id, account_id, role):
    """The stored ride of which the account is the rider or captain; 404 for anyone
    else (a ride that is not yours does not exist for you)."""
    ride = rides.find_for_party(ride_id, account_id, role)
    if ride is None:
        raise NotFound(NOT_FOUND)
    return ride


def get_ride(ride_id, account_id, role):
    return view_for(party_ride(ride_id, account_id, role), account_id)


def require_status(ride, allowed, action):
    if ride["status"] not in allowed:
        raise Conflict(f"Cannot {action} a ride that is {ride['status']}")


def accept(ride_id, captain):
    """The active `captain` (account) takes a pending ride of which they hold a live
    offer: exactly one captain wins; 409 for the others, for a captain whose offer
    ended and for one with an open ride; 404 for a captain never offered it."""
    state = captain_states.state_of(captain)
    if state == captain_states.AVAILABLE:  # no live offer of any ride
        raise rounds.no_offer(ride_id, captain["_id"])
    captain_states.require(state, "accept")
    try:
        ride = rides.accept(ride_id, captain["_id"])
    except DuplicateKeyError:  # won another ride meanwhile
        raise Conflict(OPEN_RIDE) from None
    if ride is None:
        raise rounds.no_offer(ride_id, captain["_id"])
    locations.ride_changed(ride)
    record(ride, "ride-accepted")
    view = with_parties([ride])[0]
    push_to_parties(view, "ride-confirmed")
    notifier.push_many(offered_others(ride, captain["_id"]), "ride-taken",
                       NOTICE.dump({"rideId": ride["_id"]}))
    return without_otp(view)


def offered_others(ride, captain_id):
    """The captains of the ride's round still holding its offer, but `captain_id`."""
    state = ride.get("dispatch", {})
    declined = state.get("declined", {})
    return [other for other in state.get("captains", [])
            if other != captain_id and str(other) not in declined]


def decline(ride_id, captain_id):
    """The captain declines their live offer of a pending ride (rounds.decline)."""
    return rounds.decline(ride_id, captain_id)


def offer_received(captain_id, offer_id):
    """The captain's client acknowledges its offer (rounds.received)."""
    rounds.received(captain_id, offer_id)


def check_otp(ride, otp):
    """400 for a wrong OTP (counted), 429 once MAX_OTP_FAILURES were counted."""
    if ride.get("otpFailures", 0) >= rides.MAX_OTP_FAILURES:
        raise TooManyRequests(LOCKED)
    if not hmac.compare_digest(otp.encode(), ride["otp"].encode()):
        if not rides.record_otp_failure(ride["_id"]):
            raise TooManyRequests(LOCKED)
        raise BadRequest("Invalid OTP")


def start(ride_id, captain_id, otp):
    """The captain starts their accepted ride with the OTP the rider tells them."""
    ride = party_ride(ride_id, captain_id, Role.CAPTAIN)
    require_status(ride, ["accepted"], "start")
    check_otp(ride, otp)
    started = rides.transition(
        {"_id": ride["_id"], "status": "accepted",
         "otpFailures": {"$lt": rides.MAX_OTP_FAILURES}}, "ongoing")
    if started is None:  # cancelled or locked meanwhile
        raise Conflict("Ride can no longer be started")
    return finish_transition(started, "ride-started", "ride-started", captain_id)


def end(ride_id, captain_id):
    """The captain completes their ongoing ride."""
    ride = party_ride(ride_id, captain_id, Role.CAPTAIN)
    require_status(ride, ["ongoing"], "end")
    ended = rides.transition({"_id": ride["_id"], "status": "ongoing"}, "completed")
    if ended is None:
        raise Conflict("Ride is no longer ongoing")
    view = finish_transition(ended, "ride-completed", "ride-ended", captain_id)
    close_ride_call(ended["_id"], "ride-ended")
    return view


def cancel(ride_id, account_id, role):
    """The rider or the captain cancels a pending or accepted ride; the captains holding
    the offer of a still pending one hear it too."""
    ride = party_ride(ride_id, account_id, role)
    require_status(ride, ["pending", "accepted"], "cancel")
    cancelled = rides.transition(
        {"_id": ride["_id"], "status": {"$in": ["pending", "accepted"]}}, "cancelled",
        cancelledBy=str(role))
    if cancelled is None:
        raise Conflict("Ride can no longer be cancelled")
    view = finish_transition(cancelled, "ride-cancelled", "ride-cancelled", account_id,
                             by=str(role))
    if cancelled["captain"] is None:
        push_to_captains(offered_others(cancelled, None), "ride-cancelled", view)
    else:
        close_ride_call(cancelled["_id"], "ride-cancelled")
    return view


def finish_transition(ride, action, event, viewer_id, **meta):
    """Record `action`, push `event` to both parties; the ride as `viewer_id` sees it."""
    if ride.get("captain"):
        locations.ride_changed(ride)
    record(ride, action, **meta)
    view = with_parties([ride])[0]
    push_to_parties(view, event)
    return seen_by(view, viewer_id)
