"""The parts of the OpenAPI document that no route declares: the error shapes of
API.md, the security schemes, and the Socket.IO endpoint of the realtime service."""

SCHEMAS = {
    "Error": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    "ValidationErrors": {
        "type": "object",
        "properties": {"errors": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "msg": {"type": "string"},
                "param": {"type": "string", "examples": ["fullname.firstname"]},
                "location": {"type": "string", "enum": ["body", "query", "params"]},
            },
            "required": ["msg", "param", "location"],
        }}},
        "required": ["errors"],
    },
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "token"},
}

ERROR_TEXTS = {
    400: "Validation failed (every failing field), a malformed JSON body or path id",
    401: "Missing, malformed, expired or revoked token, or wrong credentials",
    403: "A valid token of the other role (user vs captain), or not a party of the object",
    404: "Not found",
    409: "Conflict with the current state (duplicate, already taken, already open)",
    413: "Request body too large",
    415: "The request body is not application/json",
    429: "Too many requests; see Retry-After",
    500: "Internal server error (never carries exception text)",
    503: "Database unavailable",
}

_ERROR = {"$ref": "#/components/schemas/Error"}
_VALIDATION = {"$ref": "#/components/schemas/ValidationErrors"}


def _error_response(status):
    schema = {"oneOf": [_VALIDATION, _ERROR]} if status == 400 else _ERROR
    response = {"description": ERROR_TEXTS[status],
                "content": {"application/json": {"schema": schema}}}
    if status == 429:
        response["headers"] = {"Retry-After": {
            "description": "Seconds to wait", "schema": {"type": "integer"}}}
    return response


ERROR_RESPONSES = {status: _error_response(status) for status in ERROR_TEXTS}


def error_response_ref(status):
    if status in ERROR_RESPONSES:
        return {"$ref": f"#/components/responses/Error{status}"}
    return {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}


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


def socketio_path():
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
