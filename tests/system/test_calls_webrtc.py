"""A real WebRTC connection negotiated through a served realtime process: two aiortc
peers exchange their offer, answer and ICE candidates as Ridewire `signal`s and each
receives the other's data channel message."""
import asyncio

from ..factories import make_user
from ..webrtc_support import call_through_ridewire


def test_two_peers_connect_through_the_signal_relay(served_realtime, db):
    alice, bob = make_user(db), make_user(db)
    first, second, received = asyncio.run(
        call_through_ridewire(served_realtime.url, alice, bob))
    assert received == [f"hello from {bob['_id']}", f"hello from {alice['_id']}"]
    # The candidates went through the relay, not inside the descriptions.
    assert first.sent_candidates and second.sent_candidates
    assert all(" typ host" in candidate for candidate in first.sent_candidates)
