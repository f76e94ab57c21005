"""Calls: WebRTC signaling between the members of a call room (meetings, ride calls,
direct calls), their in-call chat, call history and ICE servers with TURN credentials."""
