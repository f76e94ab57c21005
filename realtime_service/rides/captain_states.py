"""A captain's state, the one place that says what it is and what it allows.

    offline    off duty (`status` inactive) or not connected
    available  on duty, connected, no open ride, no live offer: may be offered a ride
    offered    holds a live offer of a pending ride: may accept or decline it
    en-route   has accepted a ride, on the way to the pickup (ride `accepted`)
    on-trip    carries the rider (ride `ongoing`)

The state is derived from what is stored (the account's duty status, presence, the
rides), never kept apart from it: an open ride wins over the rest (a captain who
disconnects during a trip is still on it), then being off duty (an offer held while
going inactive cannot be accepted). The ride's own guarded updates make each
move atomic (rides.py); `require` refuses a move the captain's state does not allow.
"""
from realtime_service.rides import rides
from shared.errors import Conflict
from shared.serialize import now

OFFLINE, AVAILABLE, OFFERED, EN_ROUTE, ON_TRIP = (
    "offline", "available", "offered", "en-route", "on-trip")
STATES = (OFFLINE, AVAILABLE, OFFERED, EN_ROUTE, ON_TRIP)
OF_RIDE = {"accepted": EN_ROUTE, "ongoing": ON_TRIP}
# The moves of each action: {state before: state after}. A ride ending (completed,
# cancelled) makes its captain available again.
MOVES = {
    "offer": {AVAILABLE: OFFERED},
    "accept": {OFFERED: EN_ROUTE},
    "decline": {OFFERED: AVAILABLE},
    "expire": {OFFERED: AVAILABLE},
    "start": {EN_ROUTE: ON_TRIP},
    "end": {ON_TRIP: AVAILABLE},
    "cancel": {EN_ROUTE: AVAILABLE},
}
REFUSALS = {
    OFFLINE: "Go active to accept rides",
    AVAILABLE: "You hold no offer of this ride",
    OFFERED: "You already hold an offer",
    EN_ROUTE: "You already have an open ride",
    ON_TRIP: "You already have an open ride",
}


def state_of(captain, connected=True):
    """The state of `captain` (the account); `connected`: whether presence has it (a
    captain calling a route is taken to be connected)."""
    open_ride = rides.open_ride_of_captain(captain["_id"])
    if open_ride is not None:
        return OF_RIDE[open_ride["status"]]
    if captain.get("status") != "active" or not connected:
        return OFFLINE
    if rides.offered_among([captain["_id"]], now()):
        return OFFERED
    return AVAILABLE


def require(state, action):
    """Conflict (409) unless a captain in `state` may take `action`."""
    if state not in MOVES[action]:
        raise Conflict(REFUSALS[state])


def available_among(captain_ids):
    """Those of `captain_ids` (on duty and connected) that are available: no open
    ride, no live offer. Two queries, whatever the number of captains."""
    if not captain_ids:
        return []
    taken = rides.busy_among(captain_ids) | rides.offered_among(captain_ids, now())
    return [captain_id for captain_id in captain_ids if captain_id not in taken]
