"""Live captain locations: each `update-location-captain` goes to the live captain
index (realtime_service.rides.captain_index) and, for a captain with an accepted or
ongoing ride, to its rider as `captain-location` at once, without a database round
trip: the captain -> open ride mapping is kept beside the index, changed by the rides
service on every ride transition (`ride_changed`) and read from MongoDB at start-up.

MongoDB gets a captain's position in a background bulk write at most once per
LOCATION_PERSIST_SECONDS, and at once on a change of its ride, so a restart loses at
most that much; a captain that connects is indexed at its stored position while that
is fresher than LOCATION_STALE_SECONDS. Each process limits each captain's updates
(LOCATION_MAX_PER_SECOND, bursts of LOCATION_BURST): the excess is dropped.
"""
import time
from datetime import UTC, datetime

from bson import ObjectId
from flask import current_app
from pymongo.errors import PyMongoError

from realtime_service.extensions import socketio
from realtime_service.rides import captain_index, rides
from realtime_service.sockets import notifier
from shared.accounts import accounts
from shared.errors import BadRequest, TooManyRequests

TOO_FAST = "Too many location updates: this one was dropped"
NOT_AN_UPDATE = 'Expected {"location": {"lat", "lng"}}'
SWEEP_SECONDS = 5.0  # how often stale entries are swept and the ride mapping checked
# Positions per bulk write: small enough that a database which writes one bulk at a
# time (SecantusDB) lets a ride request's queries in between (BENCHMARKS.md, scenario 10).
SAVE_BULK = 200


def init_app(app):
    captain_index.init_app(app)
    app.extensions["live_locations"] = LiveLocations(app.config)


def live():
    return current_app.extensions["live_locations"]


class LiveLocations:
    """This process's own share: each captain's token bucket and the positions not yet
    written to MongoDB."""

    def __init__(self, config):
        self.rate, self.burst = config["LOCATION_MAX_PER_SECOND"], config["LOCATION_BURST"]
        self.buckets = {}  # captain id -> [tokens, at]
        self.unsaved = {}  # captain id -> (lat, lng, reported at)

    def allow(self, captain_id, now):
        """Take a token from the captain's bucket; False when it is empty."""
        if self.rate <= 0:
            return True
        bucket = self.buckets.get(captain_id)
        if bucket is None:
            self.buckets[captain_id] = [self.burst - 1.0, now]
            return True
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True


def read_location(data):
    """{"lat", "lng"} of an update's payload {"location": {"lat" (or "ltd"), "lng"}}:
    finite numbers (or numeric strings) in range; BadRequest with a readable message
    otherwise. Written out rather than a schema: it runs on every update, where a
    nested marshmallow load cost a quarter of the handler (BENCHMARKS.md)."""
    place = data.get("location") if isinstance(data, dict) else None
    if not isinstance(place, dict):
        raise BadRequest(NOT_AN_UPDATE)
    lat = _coordinate("lat", place.get("lat", place.get("ltd")), 90, "Latitude")
    lng = _coordinate("lng", place.get("lng"), 180, "Longitude")
    return {"lat": lat, "lng": lng}


def _coordinate(name, value, bound, label):
    if value is None:
        raise BadRequest(f"location.{name}: Missing data for required field.")
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        raise BadRequest(f"location.{name}: Not a valid number.") from None
    if not -bound <= number <= bound:  # NaN fails this too
        raise BadRequest(f"location.{name}: {label} must be between -{bound} and {bound}")
    return number


def captain_connected(account):
    """Index a captain that connected, at its stored position if that is fresh; return
    its vehicle type (what its updates are indexed under)."""
    vehicle_type = (account.get("vehicle") or {}).get("vehicleType")
    point, at = account.get("location"), account.get("locationUpdatedAt")
    lat = lng = seen = None
    if point and at is not None:
        lng, lat = point["coordinates"]
        seen = _aware(at).timestamp()
    captain_index.index().add(str(account["_id"]), vehicle_type, lat, lng, seen)
    return vehicle_type


def captain_disconnected(captain_id, vehicle_type):
    """The captain's last connection closed: it leaves the index."""
    captain_index.index().remove(str(captain_id), vehicle_type)
    live().buckets.pop(str(captain_id), None)


def update_captain_location(captain_id, vehicle_type, location, now):
    """Index the position ({"lat", "lng"}) reported at `now` (epoch seconds) and push
    `captain-location` to the rider of the captain's open ride, if any. 429 when the
    captain is over its rate (the update is dropped)."""
    key = str(captain_id)
    state = live()
    if not state.allow(key, now):
        raise TooManyRequests(TOO_FAST)
    lat, lng = location["lat"], location["lng"]
    ride = captain_index.index().update(key, vehicle_type, lat, lng, now)
    state.unsaved[key] = (lat, lng, now)
    if ride is not None:
        notifier.push(ride[1], "captain-location", {"rideId": ride[0], "location": location})


def ride_changed(ride):
    """After a transition of a ride with a captain: the captain -> open ride mapping
    follows it, and the captain's latest position is written now."""
    key = str(ride["captain"])
    busy = ride["status"] in rides.BUSY
    captain_index.index().set_ride(key, (str(ride["_id"]), str(ride["user"])) if busy else None)
    position = live().unsaved.pop(key, None)
    if position is not None:
        accounts.set_locations(_stored({key: position}))


def save_positions():
    """Write the positions reported since the last call, in bulks of SAVE_BULK; return
    how many captains' positions were written. What a failed write held is kept for
    the next call (unless a newer report replaced it)."""
    state = live()
    unsaved, state.unsaved = state.unsaved, {}
    batch = list(unsaved.items())
    for start in range(0, len(batch), SAVE_BULK):
        try:
            accounts.set_locations(_stored(dict(batch[start:start + SAVE_BULK])))
        except PyMongoError:
            for key, position in batch[start:]:
                state.unsaved.setdefault(key, position)
            raise
        socketio.sleep(0)  # other requests' queries go between two bulks
    return len(batch)


def load_open_rides():
    """The captain -> open ride mapping, read from MongoDB (at start-up, and after
    Redis lost it)."""
    index = captain_index.index()
    index.begin_loading()
    index.load_rides({str(captain): (str(ride_id), str(user))
                      for captain, user, ride_id in rides.open_rides()})


def _stored(positions):
    return {ObjectId(key): (lat, lng, datetime.fromtimestamp(at, UTC))
            for key, (lat, lng, at) in positions.items()}


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def upkeep_forever(app):
    """Background task: load the open rides when needed, write the unsaved positions
    every LOCATION_PERSIST_SECONDS, sweep stale entries every SWEEP_SECONDS."""
    persist = app.config["LOCATION_PERSIST_SECONDS"]
    next_save = next_sweep = time.monotonic()
    while True:
        now = time.monotonic()
        save, sweep = now >= next_save + persist, now >= next_sweep + SWEEP_SECONDS
        with app.app_context():
            _upkeep_step(app, save, sweep)
        next_save, next_sweep = (now if save else next_save), (now if sweep else next_sweep)
        socketio.sleep(max(0.05, min(next_save + persist, next_sweep + SWEEP_SECONDS)
                           - time.monotonic()))


def _upkeep_step(app, save, sweep):
    try:
        if captain_index.index().rides_need_loading():
            load_open_rides()
        if save:
            save_positions()
        if sweep:
            captain_index.index().sweep()
    except Exception:  # the next round tries again
        app.logger.exception("live locations upkeep failed")
