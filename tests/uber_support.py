"""Helpers for the Uber clone's routes (/maps and the /rides aliases): a few places of
New Delhi in the gazetteer, and one pass over every route for the response contract."""
from realtime_service.maps.places import document

from .factories import auth_header
from .rides_support import report_by_hand

# name, lat, lng, country, population (imported places rank by population too)
DELHI = [("Connaught Place", 28.6315, 77.2167, "New Delhi", 5),
         ("India Gate", 28.6129, 77.2295, "New Delhi", 4),
         ("Hauz Khas", 28.5494, 77.2001, "New Delhi", 3)]
CONNAUGHT = "Connaught Place, New Delhi"
INDIA_GATE = "India Gate, New Delhi"


def add_places(db, places=DELHI):
    """Put `places` in the gazetteer directly (as `flask import-places` would)."""
    docs = [document(f"import:test:{name}", name, lat, lng, country, population)
            for name, lat, lng, country, population in places]
    db.places.insert_many(docs)
    return docs


def exercise_uber_routes(client, db, rider, captain):
    """Each Uber clone route once with a success and with typical failures (the rider
    has no open ride, the captain is active, free and online)."""
    add_places(db)
    as_rider, as_captain = auth_header(rider), auth_header(captain, "captain")
    assert client.get("/maps/get-suggestions?input=conn", headers=as_rider).status_code == 200
    assert client.get("/maps/get-suggestions?input=co", headers=as_rider).status_code == 400
    assert client.get("/maps/get-suggestions?input=conn").status_code == 401
    assert client.get(f"/maps/get-coordinates?address={CONNAUGHT}",
                      headers=as_captain).status_code == 200
    assert client.get("/maps/get-coordinates?address=Nowhere+Qq",
                      headers=as_rider).status_code == 404
    assert client.get("/maps/get-address?ltd=28.63&lng=77.21",
                      headers=as_rider).status_code == 200
    assert client.get("/maps/get-address?ltd=0&lng=-150", headers=as_rider).status_code == 404
    assert client.get(f"/maps/get-distance-time?origin={CONNAUGHT}&destination={INDIA_GATE}",
                      headers=as_rider).status_code == 200
    trip = f"pickup={CONNAUGHT}&destination={INDIA_GATE}"
    assert client.get(f"/rides/get-fare?{trip}", headers=as_rider).status_code == 200
    assert client.get(f"/rides/get-fare?{trip}", headers=as_captain).status_code == 403
    # The captain (online) reports a position near the pickup.
    report_by_hand(client.application, captain, DELHI[0][1], DELHI[0][2])
    body = {"pickup": CONNAUGHT, "destination": INDIA_GATE, "vehicleType": "car"}
    assert client.post("/rides/create", headers=as_rider,
                       json={**body, "destination": "Nowhere Qq"}).status_code == 404
    ride = client.post("/rides/create", headers=as_rider, json=body).get_json()
    assert client.post("/rides/create", headers=as_rider, json=body).status_code == 409
    assert client.post("/rides/confirm", headers=as_captain,
                       json={"rideId": "nope"}).status_code == 400
    assert client.post("/rides/confirm", headers=as_captain,
                       json={"rideId": ride["_id"]}).status_code == 200
    start = f"/rides/start-ride?rideId={ride['_id']}"
    assert client.get(f"{start}&otp=12", headers=as_captain).status_code == 400
    assert client.get(f"{start}&otp={ride['otp']}").status_code == 401
    assert client.get(f"{start}&otp={ride['otp']}", headers=as_captain).status_code == 200
    assert client.post("/rides/end-ride", headers=as_captain,
                       json={"rideId": ride["_id"]}).status_code == 200
    assert client.post("/rides/end-ride", headers=as_captain,
                       json={"rideId": ride["_id"]}).status_code == 409

