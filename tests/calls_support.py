"""Helpers for the call tests: in-process Socket.IO peers and rides between two accounts."""
from realtime_service.extensions import socketio
from shared.serialize import now

from .factories import token_for
from .rides_support import DESTINATION, PICKUP


class Peer:
    """An account's connection through Flask-SocketIO's test client, keeping every
    event it received."""

    def __init__(self, app, account, role="user"):
        self.account, self.role = account, role
        self.id = str(account["_id"])
        self.client = socketio.test_client(app, auth={"token": token_for(account, role)},
                                           flask_test_client=app.test_client())
        assert self.client.is_connected()
        self.inbox = []

    def ack(self, event, data=None):
        """Emit `event` and return its acknowledgement."""
        return self.client.emit(event, data, callback=True)

    def received(self, event):
        """The payloads of `event` received so far, oldest first."""
        self.inbox.extend(self.client.get_received())
        return [packet["args"][0] for packet in self.inbox if packet["name"] == event]

    def join(self, room):
        answer = self.ack("call-join", {"room": room})
        assert answer["ok"], answer
        return answer

    def disconnect(self):
        if self.client.is_connected():
            self.client.disconnect()


def make_ride(db, rider, captain, status="accepted"):
    """A ride between `rider` and `captain`, stored in `status`."""
    stamp = now()
    ride = {"user": rider["_id"], "captain": captain["_id"], "pickup": PICKUP,
            "destination": DESTINATION, "vehicleType": "car", "fare": 100, "distanceKm": 7.0,
            "durationMin": 15, "status": status, "otp": "123456", "otpFailures": 0,
            "dispatched": [captain["_id"]], "createdAt": stamp, "updatedAt": stamp}
    ride["_id"] = db.rides.insert_one(ride).inserted_id
    return ride
