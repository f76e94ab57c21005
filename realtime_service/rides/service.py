"""Rides: fare estimates, requests dispatched to nearby captains, and the ride's life
(accept, start with the rider's OTP, end, cancel), with its activity entries and pushes;
the ride's call (realtime_service.calls) closes when it ends or is cancelled.

Functions return rides as their caller may see them: the stored ride with `user` and
`captain` expanded to public profiles, and the OTP only for the ride's own rider (the
`Ride` schema dumps them). Every push goes through realtime_service.sockets.notifier,
dumped with the schema of its event; a ride requested by a client with a view of its
own (`client`, `add_ride_view`) is dumped with that view. Distances come from the
configured router (realtime_service.maps.service).
"""
import hmac

from flask import current_app
from pymongo.errors import DuplicateKeyError

from realtime_service.calls.service import close_ride_call
from realtime_service.maps.service import road_route
from realtime_service.rides import dispatch, rides
from realtime_service.rides.fares import estimate, estimate_for
from realtime_service.rides.schemas import RIDE_VIEWS, Ride, RideTaken
from realtime_service.sockets import notifier
from shared.accounts import accounts, activity
from shared.accounts.roles import Role
from shared.errors import BadRequest, Conflict, NotFound, TooManyRequests

BUSY = rides.BUSY  # a captain's open statuses (the chat rules use them too)
OPEN_RIDE = "You already have an open ride"
NOT_FOUND = "Ride not found"
LOCKED = "Too many wrong OTPs for this ride"
RIDE = Ride()
RIDE_TAKEN = RideTaken()


def open_ride_of_captain(captain_id):
    """The captain's accepted or ongoing ride (stored form), or None."""
    return rides.open_ride_of_captain(captain_id)


# Views: what a party sees of a ride.

def with_parties(ride_list):
    """Copies of the rides with `user` and `captain` replaced by public profiles (one
    query per role), OTP included. An account that is gone shows as just its id."""
    users = accounts.public_profiles(Role.USER, {ride["user"] for ride in ride_list},
                                     rides.PROFILE_FIELDS)
    captains = accounts.public_profiles(
        Role.CAPTAIN, {ride["captain"] for ride in ride_list if ride.get("captain")},
        rides.PROFILE_FIELDS)
    views = []
    for ride in ride_list:
        view = {**ride, "user": users.get(ride["user"], {"_id": ride["user"]})}
        if ride.get("captain"):
            view["captain"] = captains.get(ride["captain"], {"_id": ride["captain"]})
        views.append(view)
    return views


def without_otp(view):
    return {key: value for key, value in view.items() if key != "otp"}


def seen_by(view, viewer_id):
    """`view` as `viewer_id` may see it: the OTP only for the ride's own rider."""
    return view if view["user"]["_id"] == viewer_id else without_otp(view)


def view_for(ride, viewer_id):
    return seen_by(with_parties([ride])[0], viewer_id)


# Activity and pushes.

def record(ride, action, **meta):
    """`action` in the history of the ride's rider and, once there is one, its captain."""
    meta = {"rideId": str(ride["_id"]), "status": ride["status"], **meta}
    activity.record(ride["user"], Role.USER, action, meta)
    if ride.get("captain"):
        activity.record(ride["captain"], Role.CAPTAIN, action, meta)


def dump(view):
    """The ride's payload, with the schema of the client that requested it."""
    return RIDE_VIEWS.get(view.get("client"), RIDE).dump(view)


def push_to_parties(view, event):
    """`event` with the ride to its rider (with the OTP) and its captain (without)."""
    shown = dump(view)
    notifier.push(view["user"]["_id"], event, shown)
    if view.get("captain"):
        notifier.push(view["captain"]["_id"], event, without_otp(shown))


def push_to_captains(captain_ids, event, view):
    """One OTP-free `event` with the ride to every captain of `captain_ids`."""
    notifier.push_many(captain_ids, event, dump(without_otp(view)))


# The rules.

def fare_estimate(pickup, destination):
    """Distance, durations and the fare of every vehicle type of the fare table."""
    config = current_app.config
    return estimate(pickup, destination, config["FARES"], config["ROAD_FACTOR"],
                    road_route)


def request_ride(user_id, pickup, destination, vehicle_type, client=None):
    """`(ride, dispatched)`: a new pending ride, sent as `new-ride` to the nearby active,
    connected captains of its vehicle type. 409 when the rider has an open ride.
    `client` marks the frontend that asked, when its payloads differ (`add_ride_view`)."""
    config = current_app.config
    trip = estimate_for(pickup, destination, vehicle_type, config["FARES"],
                        config["ROAD_FACTOR"], road_route)
    captains = dispatch.nearby_captains(pickup, vehicle_type)
    try:
        ride = rides.create(user_id, pickup, destination, vehicle_type, trip, captains,
                                  client)
    except DuplicateKeyError:
        raise Conflict(OPEN_RIDE) from None
    record(ride, "ride-requested", dispatchedTo=len(captains))
    view = with_parties([ride])[0]
    push_to_captains(captains, "new-ride", view)
    return view, len(captains)


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
    """The active `captain` (account) takes a pending ride dispatched to them: exactly
    one captain wins; 409 for the others and for a captain with an open ride."""
    if captain.get("status") != "active":
        raise Conflict("Go active to accept rides")
    if open_ride_of_captain(captain["_id"]) is not None:
        raise Conflict(OPEN_RIDE)
    try:
        ride = rides.accept(ride_id, captain["_id"])
    except DuplicateKeyError:  # won another ride meanwhile
        raise Conflict(OPEN_RIDE) from None
    if ride is None:
        existing = rides.find(ride_id)
        if existing is None or captain["_id"] not in existing.get("dispatched", []):
            raise NotFound(NOT_FOUND)
        raise Conflict("Ride is no longer available")
    record(ride, "ride-accepted")
    view = with_parties([ride])[0]
    push_to_parties(view, "ride-confirmed")
    others = [other for other in ride["dispatched"] if other != captain["_id"]]
    notifier.push_many(others, "ride-taken", RIDE_TAKEN.dump({"rideId": ride["_id"]}))
    return without_otp(view)


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
    """The rider or the captain cancels a pending or accepted ride; the captains sent a
    still pending request hear it too."""
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
        push_to_captains(cancelled.get("dispatched", []), "ride-cancelled", view)
    else:
        close_ride_call(cancelled["_id"], "ride-cancelled")
    return view


def finish_transition(ride, action, event, viewer_id, **meta):
    """Record `action`, push `event` to both parties; the ride as `viewer_id` sees it."""
    record(ride, action, **meta)
    view = with_parties([ride])[0]
    push_to_parties(view, event)
    return seen_by(view, viewer_id)
