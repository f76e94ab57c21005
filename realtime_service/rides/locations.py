"""Live captain locations: stored as a GeoJSON Point [lng, lat] (what dispatch
searches) and forwarded to the rider of the captain's accepted or ongoing ride."""
from realtime_service.rides import rides
from realtime_service.sockets import notifier
from shared.accounts import accounts


def update_captain_location(captain_id, location):
    """Store `location` ({"lat", "lng"}) and push `captain-location` to the rider of the
    captain's open ride, if any."""
    accounts.set_location(captain_id, location)
    ride = rides.open_ride_of_captain(captain_id)
    if ride is not None:
        notifier.push(ride["user"], "captain-location",
                      {"rideId": str(ride["_id"]), "location": location})
