"""Live captain locations over Socket.IO.

`update-location-captain` {"location": {"lat", "lng"}} (`ltd` accepted for `lat`) stores
the captain's position as a GeoJSON Point [lng, lat] (what dispatch searches), and
forwards it as `captain-location` to the rider of the captain's accepted or ongoing
ride. Bad data is answered with `error` {"message"} and changes nothing. The
handler's acknowledgement is {"ok": true} or {"ok": false, "message"}.
"""
from bson import ObjectId
from flask import session
from flask_socketio import emit
from marshmallow import ValidationError, fields
from pymongo.errors import PyMongoError

from realtime_service import presence
from realtime_service.app import socketio
from realtime_service.rides import PlaceSchema
from shared.models import accounts, rides
from shared.serialize import now
from shared.validation import Schema, flatten_errors


class LocationUpdateSchema(Schema):
    location = fields.Nested(PlaceSchema(only=("lat", "lng")), required=True)


def refuse(message):
    emit("error", {"message": message})
    return {"ok": False, "message": message}


def parse(data):
    """{"lat", "lng"} from the payload; ValueError with a readable message otherwise."""
    if not isinstance(data, dict):
        raise ValueError("Expected {\"location\": {\"lat\", \"lng\"}}")
    try:
        return LocationUpdateSchema().load(data)["location"]
    except ValidationError as error:
        errors = flatten_errors(error.messages)
        raise ValueError("; ".join(f"{e['param']}: {e['msg']}" for e in errors)) from None


@socketio.on("update-location-captain")
def update_location(data=None):
    """Store the captain's position and forward it to the rider of their open ride."""
    if session.get("role") != "captain":
        return refuse("Only captains can update their location")
    try:
        location = parse(data)
    except ValueError as error:
        return refuse(str(error))
    captain_id = ObjectId(session["account_id"])
    point = {"type": "Point", "coordinates": [location["lng"], location["lat"]]}
    try:
        accounts.collection("captain").update_one(
            {"_id": captain_id}, {"$set": {"location": point, "locationUpdatedAt": now()}})
        ride = rides.open_ride_of_captain(captain_id)
    except PyMongoError:
        return refuse("Service unavailable, try again later")
    if ride is not None:
        presence.push(ride["user"], "captain-location",
                      {"rideId": str(ride["_id"]), "location": location})
    return {"ok": True}
