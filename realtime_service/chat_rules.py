"""Who may chat with whom.

- users message users freely;
- a rider and a captain write to each other only while a ride between them is
  `accepted` or `ongoing`, and may read their conversation after any ride together;
- captains never message captains.
"""
from shared.db import mongo
from shared.errors import ApiError
from shared.models import accounts
from shared.models import rides as rides_model

ACTIVE_RIDE = rides_model.BUSY


def find_account(account_id):
    """`(role, account)` of the user or captain with this id, or 404."""
    for role, collection in accounts.COLLECTIONS.items():
        account = mongo.db[collection].find_one({"_id": account_id})
        if account is not None:
            return role, account
    raise ApiError(404, "User not found")


def ride_between(rider_id, captain_id, statuses=None):
    query = {"user": rider_id, "captain": captain_id}
    if statuses:
        query["status"] = {"$in": statuses}
    return mongo.db["rides"].find_one(query, {"_id": 1}) is not None


def chat_partner(me, my_role, other_id, writing):
    """The account at the other end of a conversation of `me`: 404 when it does not
    exist, 400 when it is `me`, 403 when the rules above forbid it."""
    if other_id == me["_id"]:
        raise ApiError(400, "You cannot message yourself")
    role, other = find_account(other_id)
    if my_role == role == "captain":
        raise ApiError(403, "Captains cannot message each other")
    if my_role != role:
        rider, captain = (me, other) if my_role == "user" else (other, me)
        if not ride_between(rider["_id"], captain["_id"], ACTIVE_RIDE if writing else None):
            raise ApiError(403, "Riders and captains can only message during their ride")
    return role, other


def riders_of_active_rides(captain_id):
    """The ids of the riders of the captain's accepted or ongoing rides (at most one:
    a unique index holds a captain to one open ride)."""
    ride = rides_model.open_ride_of_captain(captain_id)
    return [ride["user"]] if ride else []
