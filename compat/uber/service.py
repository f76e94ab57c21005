"""The Uber clone's rides: its addresses are geocoded to places
(realtime_service.maps.service), then the rules are those of every ride
(realtime_service.rides.service). Its rides are stored with `client: "uber"`, so that
every answer and push about them shows `pickup` and `destination` as the address strings
that frontend renders."""
from compat.uber.schemas import UBER
from realtime_service.maps.service import place_at
from realtime_service.rides.service import fare_estimate, request_ride


def fares_between(pickup_address, destination_address):
    """The fare of every vehicle type between two addresses; 404 when one is unknown."""
    pickup, destination = place_at(pickup_address), place_at(destination_address)
    return fare_estimate(pickup, destination)["fares"]


def request_between(user_id, pickup_address, destination_address, vehicle_type):
    """`rides.request_ride` between two addresses (geocoded; 404 when one is unknown):
    the new ride as its rider sees it."""
    pickup, destination = place_at(pickup_address), place_at(destination_address)
    ride, _dispatched = request_ride(user_id, pickup, destination, vehicle_type,
                                           client=UBER)
    return ride
