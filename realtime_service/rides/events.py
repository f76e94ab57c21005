"""The rides events of the realtime namespace (a mixin of `RealtimeNamespace`): a
captain's client acknowledging the offer a `new-ride` carried."""
from bson import ObjectId
from flask import session

from realtime_service.rides.schemas import OfferReceived
from realtime_service.rides.service import offer_received
from realtime_service.sockets.events import limited, parse
from shared.accounts.roles import Role
from shared.errors import Forbidden

OFFER_RECEIVED = OfferReceived()  # built once


class RideEvents:
    @limited
    def on_offer_received(self, data=None):
        """`{offerId}` (the `offer.id` of a `new-ride`): this captain's client has the
        offer. Acknowledged {"ok": true}; an offer that is no longer live, or not this
        captain's, is {"ok": false, "message"}."""
        if session.get("role") != Role.CAPTAIN:
            raise Forbidden("Only captains receive offers")
        offer_received(ObjectId(session["account_id"]), parse(OFFER_RECEIVED, data)["offerId"])
        return {"ok": True}
