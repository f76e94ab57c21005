"""orjson writes the JSON (shared/jsonio.py) with what Flask's own provider wrote."""
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from flask import Flask

from shared.jsonio import OrjsonProvider, SocketJSON


def test_answers_keep_flasks_conversions_and_order():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    when, ident = datetime(2026, 12, 2, 9, 30, tzinfo=UTC), uuid.uuid4()
    body = {"z": 1, "a": "ünï", 3: "int key", "when": when, "id": ident,
            "price": Decimal("1.50"), "big": 2**70}
    text = app.json.dumps(body)
    assert json.loads(text) == {"z": 1, "a": "ünï", "3": "int key",
                                "when": "Wed, 02 Dec 2026 09:30:00 GMT", "id": str(ident),
                                "price": "1.50", "big": 2**70}
    assert list(json.loads(text)) == ["z", "a", "3", "when", "id", "price", "big"]


def test_socket_packets_are_compact_and_read_back():
    text = SocketJSON.dumps(["newMessage", {"text": "hé", "n": [1, 2]}], separators=(",", ":"))
    assert text == '["newMessage",{"text":"hé","n":[1,2]}]'
    assert SocketJSON.loads('{"n": 18446744073709551616}') == {"n": 2**64}
