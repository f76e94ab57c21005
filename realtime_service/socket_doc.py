"""The OpenAPI entry of the Socket.IO endpoint: its events, in words."""

SOCKET_EVENTS = """\
Socket.IO (Engine.IO 4) endpoint. Connect with `io(url, {auth: {token}})`; the `token`
query parameter and the `Authorization` header are accepted too. Without a valid
token the connection is refused and `connect_error` carries `{"message"}`.

Server to client: `getOnlineUsers` (list of online user ids), `newMessage`,
`messagesSeen` `{"by", "messageIds"}`, `captain-location` `{"rideId", "location"}`,
`new-ride`, `ride-confirmed`, `ride-taken` `{"rideId"}`, `ride-started`, `ride-ended`,
`ride-cancelled`, `session-revoked` `{"message"}`, `error` `{"message"}`.

Client to server: `update-location-captain` `{"location": {"lat", "lng"}}`.

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
