"""The Uber clone's rides (COMPAT.md 1.2): its addresses are geocoded to places
(shared.services.maps), then the rules are those of every ride
(realtime_service.services.rides). Its rides are stored with `client: "uber"`, so that
every answer and push about them shows `pickup` and `destination` as the address strings
that frontend renders."""
from realtime_service.ride_schemas import UBER
from realtime_service.services import rides
from shared.services import maps


def fares_between(pickup_address, destination_address):
    """The fare of every vehicle type between two addresses; 404 when one is unknown."""
    pickup, destination = maps.place_at(pickup_address), maps.place_at(destination_address)
    return rides.fare_estimate(pickup, destination)["fares"]


def request_between(user_id, pickup_address, destination_address, vehicle_type):
    """`rides.request_ride` between two addresses (geocoded; 404 when one is unknown):
    the new ride as its rider sees it."""
    pickup, destination = maps.place_at(pickup_address), maps.place_at(destination_address)
    ride, _dispatched = rides.request_ride(user_id, pickup, destination, vehicle_type,
                                           client=UBER)
    return ride
