"""The OpenAPI entry of the Socket.IO endpoint: its events, in words."""

SOCKET_EVENTS = """\
Socket.IO (Engine.IO 4) endpoint. Connect with `io(url, {auth: {token}})`; the `token`
query parameter, the `Authorization` header and the HttpOnly `token` cookie (sent by
a page of the gateway's own origin) are accepted too, in that order. An invalid token
is refused and `connect_error` carries `{"message"}`. Without any credential, it is
refused (with the compat routes on, a page of the gateway's own origin connects
anonymously and receives nothing until it reconnects with the cookie of a login;
docs/compat.md).

Every event from the server carries an offset as its last argument (connection state
recovery: docs/api.md). Server to client: `getOnlineUsers` (list of online user ids; with
`PRESENCE_EVENTS=delta`, `userOnline` and `userOffline` `{"userId"}` after the first
list, a window's changes together, or, to a client whose handshake auth has
`presence: "batch"`, one `presence` `{"online", "offline"}` per window), `newMessage`,
`message-delivered` `{"receiverId", "messageIds", "deliveredAt"}`,
`messages-seen` `{"readerId", "senderId", "upTo", "seenAt", "unseen"}`, `typing`
`{"from", "active"}`, `captain-location`
`{"rideId", "location"}`, `new-ride` (with `offer` `{"id", "expiresAt"}`),
`ride-offer-expired`, `ride-searching`, `ride-expired`, `ride-confirmed` (to the
rider, with the OTP, and to the captain), `ride-taken` `{"rideId"}`, `ride-started`, `ride-ended`,
`ride-cancelled`, `session-revoked` `{"message"}`, `error` `{"message"}`; calls:
`incoming-call`, `call-member-joined`, `call-member-left`, `signal`
`{"room", "from", "data"}`, `call-message`, `call-ended` `{"room", "reason"}`.

Client to server: `update-location-captain` `{"location": {"lat", "lng"}}`,
`offer-received` `{"offerId"}` (a captain's client has a `new-ride` offer); chat:
`send-message` `{"to", "text", "clientMessageId"}` (acknowledged with the stored
`newMessage`), `message-delivered` `{"messageIds"}`, `typing` `{"to", "active"}`; calls:
`call-start` `{"kind", "rideId", "to"}`, `call-join`, `call-leave`, `call-end`
`{"room"}`, `signal` `{"room", "to", "data"}` (relayed only between two members of
one room), `call-message` `{"room", "text"}`; with the compat routes on, `join`
`{"userId", "userType"}`, honoured only for the connection's own account, and the
meeting frontend's events of docs/compat.md, with positional arguments: `join-call`, `signal` and
`chat-message` to the server, `user-joined`, `user-left`, `signal` and
`chat-message` from it.

Behind several realtime processes the gateway must keep a client on one process
(sticky sessions) for HTTP long-polling."""


def socketio_operations():
    """The Socket.IO endpoint, which no Flask route declares (Engine.IO answers it)."""
    return {"get": {
        "operationId": "socketio_handshake",
        "tags": ["socket.io"],
        "summary": "Socket.IO connection (long-polling or websocket upgrade)",
        "description": SOCKET_EVENTS,
        "parameters": [
            {"in": "query", "name": "EIO", "required": True, "schema": {"const": "4"}},
            {"in": "query", "name": "transport", "required": True,
             "schema": {"enum": ["polling", "websocket"]}},
            {"in": "query", "name": "sid", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "Engine.IO packets (long-polling)"},
            "101": {"description": "Switching protocols (websocket)"},
            "400": {"description": "Unknown session or bad transport"},
        },
    }}
