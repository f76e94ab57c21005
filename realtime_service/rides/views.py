"""What a party sees of a ride, and how it is pushed: the stored ride with `user` and
`captain` expanded to public profiles, the OTP only for the ride's own rider, dumped
with the schema of the client that requested it (`add_ride_view`) or `Ride`; the
activity entries of its parties. Used by the ride rules (service.py) and the offer
rounds (rounds.py)."""
from realtime_service.rides import rides
from realtime_service.rides.schemas import RIDE_VIEWS, Ride
from realtime_service.sockets import notifier
from shared.accounts import accounts, activity
from shared.accounts.roles import Role

RIDE = Ride()


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
