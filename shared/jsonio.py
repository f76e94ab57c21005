"""JSON written by orjson: Flask's answers and Socket.IO's packets.

What Flask's own provider does is kept: its `default` (dates as HTTP dates, decimals,
UUIDs, dataclasses), non-string keys made strings, and the standard library for what
orjson refuses (an int beyond 64 bits) or for options orjson has no equivalent of
(pretty printing in debug). Keys keep the order the schemas dump them in. Reading
stays with the standard library: orjson reads an integer past 64 bits as a float,
where a body must keep the number it was sent (or be refused).
"""
import json

import orjson
from flask.json.provider import DefaultJSONProvider, _default

OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(obj, **kwargs):
    """`json.dumps` for Socket.IO (it asks for compact separators, orjson's only ones)."""
    try:
        return orjson.dumps(obj, default=_default, option=OPTIONS).decode()
    except TypeError:
        return json.dumps(obj, default=_default, **kwargs)


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False

    def dumps(self, obj, **kwargs):
        if kwargs or self._app.debug:
            return super().dumps(obj, **kwargs)
        return dumps(obj)


class SocketJSON:
    """The `json` module python-socketio and python-engineio are given."""
    dumps = staticmethod(dumps)
    loads = staticmethod(json.loads)
