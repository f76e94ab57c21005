"""/calls: the ICE servers of a call (with TURN credentials) and the caller's call
history. Each route parses, calls realtime_service.calls.service and responds; the
calls themselves are Socket.IO events (realtime_service.sockets.namespace)."""
from realtime_service.calls import service
from realtime_service.calls.schemas import (
    CallHistoryQuery,
    CallHistoryResponse,
    IceServersResponse,
)
from shared.accounts.tokens import auth_required, current_account
from shared.web import Blueprint

call_routes = Blueprint("calls", __name__, url_prefix="/calls",
                        description="WebRTC calls: ICE servers and call history")

NO_STORE = {"Cache-Control": "no-store"}


def me():
    return current_account()["_id"]


@call_routes.get("/ice-servers")
@auth_required()
@call_routes.response(200, IceServersResponse)
def ice_servers():
    """ICE servers for RTCPeerConnection.

    `iceServers` as `new RTCPeerConnection({iceServers})` takes it: the STUN URLs of
    STUN_URLS and, with TURN configured, the TURN URLs of TURN_URLS with a username
    and credential for you, valid `ttl` (TURN_TTL_SECONDS) seconds: fetch them again
    before a call that starts later. Never cached."""
    return service.ice_servers(me()), NO_STORE


@call_routes.get("/history")
@auth_required()
@call_routes.arguments(CallHistoryQuery, location="query")
@call_routes.response(200, CallHistoryResponse)
def history(query):
    """My calls, newest first.

    One entry per join of a call: its room, kind, ride, when you joined and when you
    left (null while you are in it). Pass `next` as `before` for the following page."""
    page, cursor = service.history(me(), query["limit"], query["before"])
    return {"calls": page, "next": cursor}
