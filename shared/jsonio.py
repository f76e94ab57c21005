"""JSON through orjson: Flask's answers and request bodies, and Socket.IO's packets.

What Flask's own provider does is kept: its `default` (dates as HTTP dates, decimals,
UUIDs, dataclasses), non-string keys made strings, and the standard library for what
orjson refuses (an int beyond 64 bits) or for options orjson has no equivalent of
(pretty printing in debug). Keys keep the order the schemas dump them in.
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


def loads(data, **_kwargs):
    return orjson.loads(data)


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False

    def dumps(self, obj, **kwargs):
        if kwargs or self._app.debug:
            return super().dumps(obj, **kwargs)
        return dumps(obj)

    def loads(self, s, **kwargs):
        return loads(s) if not kwargs else super().loads(s, **kwargs)


class SocketJSON:
    """The `json` module python-socketio and python-engineio are given."""
    dumps = staticmethod(dumps)
    loads = staticmethod(loads)
