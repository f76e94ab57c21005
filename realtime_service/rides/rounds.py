"""Offer rounds: a pending ride is offered to a few captains at a time.

Each round offers the ride (`new-ride` with `offer: {"expiresAt"}`) to the
DISPATCH_BATCH best available captains not offered it yet (dispatch.offer_batch), within
DISPATCH_RADIUS_KM of the pickup, then DISPATCH_RADIUS_KM_MAX once no one is left
nearer; the rider hears `ride-searching`. When every captain of the round declined, or
OFFER_SECONDS passed without an accept, each of them gets `ride-offer-expired` and the
next round starts. When no candidate is left the ride keeps searching: it waits
OFFER_SECONDS (no push) and looks again, for captains who came online or reported a
position since. DISPATCH_TIMEOUT_SECONDS after the request the ride ends `expired` and
the rider gets `ride-expired`.

The search's state is stored in the ride (rides.py: `dispatch`), so any process moves
it on: the request that created the ride (round 1), the captain whose decline is the
round's last, or the sweeper of any process once the round or the wait is over
(`sweep`, every DISPATCH_SWEEP_SECONDS). Each move is a guarded update on the search's
step: of several processes exactly one wins it, and only the winner pushes.
"""
from datetime import timedelta

from bson import ObjectId
from flask import current_app
from pymongo.errors import PyMongoError
from redis import RedisError

from realtime_service.extensions import socketio
from realtime_service.rides import dispatch, rides, views
from realtime_service.rides.schemas import RideNotice, RideSearching
from realtime_service.sockets import notifier
from shared.errors import Conflict, NotFound
from shared.serialize import now

NOT_FOUND = "Ride not found"
NOTICE = RideNotice()
SEARCHING = RideSearching()
SWEEP_BATCH = 100  # rounds moved per pass; a full pass is followed by another at once

NO_OFFER = "No live offer of this ride to you"


def start(ride):
    """The first round of a new ride (or its first wait, when no captain is there); the
    ride after it."""
    return advance(ride) or rides.find(ride["_id"])


def advance(ride):
    """Move on from the ride's round (or wait) as read: offer it to the next batch, wait
    OFFER_SECONDS when no captain is left, or end the search once
    DISPATCH_TIMEOUT_SECONDS have passed. The ride after the move, or None when another
    process moved it first."""
    state, stamp = ride["dispatch"], now()
    if stamp >= state["endsAt"]:
        return expire(ride)
    captains, radius_km = next_captains(ride, state["radiusKm"])
    offer_seconds = current_app.config["OFFER_SECONDS"]
    expires_at = min(stamp + timedelta(seconds=offer_seconds), state["endsAt"])
    moved = rides.next_round(ride, captains, radius_km, expires_at)
    if moved is not None:
        announce(ride, moved)
    return moved


def next_captains(ride, radius_km):
    """`(captains, radius)`: the next batch within the ride's radius, else within the
    widest one; no captains when none is left."""
    widest = current_app.config["DISPATCH_RADIUS_KM_MAX"]
    for radius in [radius_km] if radius_km >= widest else [radius_km, widest]:
        batch = dispatch.offer_batch(ride["pickup"], ride["vehicleType"], radius,
                                     ride["dispatched"])
        if batch:
            return batch, radius
    return [], radius_km


def end_offers(ride):
    """`ride-offer-expired` to the captains of the round the ride was read in."""
    captains = ride.get("dispatch", {}).get("captains", [])
    if captains:
        notifier.push_many(captains, "ride-offer-expired", NOTICE.dump({"rideId": ride["_id"]}))


def announce(before, ride):
    """The pushes of a move: the old round's offers end; a new round's captains get
    `new-ride` with their offer and the rider `ride-searching` (a wait pushes no more)."""
    end_offers(before)
    state = ride["dispatch"]
    if not state["captains"]:
        return
    view = {**views.with_parties([ride])[0],
            "offer": {"id": offer_id(ride), "expiresAt": state["expiresAt"]}}
    views.push_to_captains(state["captains"], "new-ride", view)
    notifier.push(ride["user"], "ride-searching", SEARCHING.dump(
        {"rideId": ride["_id"], "round": state["round"], "offered": len(state["captains"])}))


def offer_id(ride):
    return f"{ride['_id']}.{ride['dispatch']['round']}"


def received(captain_id, offer):
    """The captain's client has its offer `offer` (`<ride id>.<round>`): recorded on the
    ride, so that an unanswered offer is told from an undelivered one. 404 when the
    captain holds no live offer of that round."""
    ride_id, _, round_number = offer.partition(".")
    if not (ObjectId.is_valid(ride_id) and round_number.isdigit()):
        raise NotFound(NO_OFFER)
    if not rides.received(ObjectId(ride_id), int(round_number), captain_id):
        raise NotFound(NO_OFFER)


def expire(ride):
    """End the ride's search (`expired`); None when another process moved it first."""
    ended = rides.expire(ride)
    if ended is None:
        return None
    end_offers(ride)
    views.record(ended, "ride-expired")
    notifier.push(ended["user"], "ride-expired", NOTICE.dump({"rideId": ended["_id"]}))
    return ended


def decline(ride_id, captain_id):
    """The captain declines their live offer of the ride; the round moves on at once
    when every captain of it declined. 404/409 as `no_offer` says."""
    ride = rides.decline(ride_id, captain_id)
    if ride is None:
        raise no_offer(ride_id, captain_id)
    state = ride["dispatch"]
    if all(str(captain) in state["declined"] for captain in state["captains"]):
        advance(ride)
    return {"rideId": ride_id}


def no_offer(ride_id, captain_id):
    """The error for a captain without a live offer of the ride: 404 when it was never
    offered to them (it does not exist for them), else a 409 saying why."""
    ride = rides.find(ride_id)
    if ride is None or captain_id not in ride.get("dispatched", []):
        return NotFound(NOT_FOUND)
    if ride["status"] != "pending":
        return Conflict("Ride is no longer available")
    if str(captain_id) in ride.get("dispatch", {}).get("declined", {}):
        return Conflict("You declined this ride")
    return Conflict("Your offer of this ride has expired")


def sweep():
    """Move on the rounds and waits that are due (expired, or never started); how many
    moved."""
    moved = 0
    for ride in rides.rounds_due(now(), SWEEP_BATCH):
        try:
            moved += advance(ride) is not None
        except (PyMongoError, RedisError):
            raise
        except Exception:  # one bad ride must not stop the others' rounds
            current_app.logger.exception("dispatch: could not move on ride %s", ride["_id"])
    return moved


def sweep_forever(app):
    """Background task: every DISPATCH_SWEEP_SECONDS, move on the rounds due, whichever
    process started them (several processes may sweep: one wins each round)."""
    while True:
        socketio.sleep(app.config["DISPATCH_SWEEP_SECONDS"])
        try:
            with app.app_context():
                while sweep() >= SWEEP_BATCH:
                    pass
        except (PyMongoError, RedisError) as error:
            app.logger.warning("dispatch sweep failed: %s", type(error).__name__)
        except Exception:  # keep sweeping whatever happens
            app.logger.exception("dispatch sweep failed")


def init_app(app):
    """Start this process's sweeper, unless DISPATCH_SWEEP_SECONDS is 0."""
    if app.config["DISPATCH_SWEEP_SECONDS"] > 0:
        app.extensions["dispatch_sweeper"] = socketio.start_background_task(
            sweep_forever, app)
