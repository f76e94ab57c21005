"""Real WebRTC peers (aiortc) that negotiate through Ridewire's `signal` relay.

Each peer has its own python-socketio connection to a served realtime process. It
sends its description without candidates, then each candidate as a `signal` of its
own and an end-of-candidates one, as a browser that trickles ICE does; the other side
applies them in the order they come (one socket's packets arrive in order)."""
import asyncio

import requests
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.sdp import candidate_from_sdp

from .factories import auth_header, token_for
from .sockets import RecordingClient, payload_of

TIMEOUT = 20


def ice_servers(url, account):
    """`iceServers` of GET /calls/ice-servers, for aiortc."""
    answer = requests.get(f"{url}/calls/ice-servers", headers=auth_header(account),
                          timeout=5)
    answer.raise_for_status()
    return [RTCIceServer(**server) for server in answer.json()["iceServers"]]


def split_description(sdp):
    """`(sdp without its candidates, [(candidate, mid, m-line index)])`."""
    bare, candidates, mid, index = [], [], None, -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:"):]
        if line.startswith("a=candidate:"):
            candidates.append((line[2:], mid, index))
        elif not line.startswith("a=end-of-candidates"):
            bare.append(line)
    return "\r\n".join(bare) + "\r\n", candidates


class Peer:
    """An account with a socket to the served realtime process and one
    RTCPeerConnection, configured with its own GET /calls/ice-servers."""

    def __init__(self, url, account, relay_only=False):
        self.account, self.id = account, str(account["_id"])
        self.loop = asyncio.get_running_loop()
        self.signals = asyncio.Queue()
        self.socket = RecordingClient()
        self.socket.client.on("signal", self._on_signal)
        self.socket.connect(url, token_for(account))
        policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=ice_servers(url, account),
                                                     iceTransportPolicy=policy))
        self.messages = asyncio.Queue()
        self.channel = None
        self.sent_candidates = []
        self.pc.on("datachannel", self._on_channel)

    def _on_signal(self, *args):
        self.loop.call_soon_threadsafe(self.signals.put_nowait, payload_of(args))

    def _on_channel(self, channel):
        self.channel = channel
        channel.on("message", self.messages.put_nowait)

    async def emit(self, event, data):
        """Emit `event` and return its acknowledgement."""
        return await asyncio.to_thread(self.socket.client.call, event, data, timeout=5)

    async def signal(self, room, to, data):
        answer = await self.emit("signal", {"room": room, "to": to, "data": data})
        assert answer == {"ok": True}, answer

    async def send_description(self, room, to):
        """The local description, then its candidates one by one, then their end."""
        description = self.pc.localDescription
        sdp, candidates = split_description(description.sdp)
        await self.signal(room, to, {"type": description.type, "sdp": sdp})
        for candidate, mid, index in candidates:
            self.sent_candidates.append(candidate)
            await self.signal(room, to, {"candidate": candidate, "sdpMid": mid,
                                         "sdpMLineIndex": index})
        await self.signal(room, to, {"candidate": None})

    async def offer(self, room, to):
        """Open a data channel and offer it to the member `to`."""
        self.channel = self.pc.createDataChannel("chat")
        self.channel.on("message", self.messages.put_nowait)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.send_description(room, to)

    async def apply(self, payload):
        """Apply one received signal; an offer is answered through the relay."""
        data = payload["data"]
        if "sdp" in data:
            await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"],
                                                                     data["type"]))
            if data["type"] == "offer":
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await self.send_description(payload["room"], payload["from"])
        elif data.get("candidate"):
            candidate = candidate_from_sdp(data["candidate"].split(":", 1)[1])
            candidate.sdpMid, candidate.sdpMLineIndex = data["sdpMid"], data["sdpMLineIndex"]
            await self.pc.addIceCandidate(candidate)
        else:
            await self.pc.addIceCandidate(None)

    async def negotiate_until_done(self):
        """Apply the signals received, until the end of the other side's candidates."""
        while True:
            payload = await asyncio.wait_for(self.signals.get(), TIMEOUT)
            await self.apply(payload)
            if "candidate" in payload["data"] and payload["data"]["candidate"] is None:
                return

    async def connected(self):
        """Wait for the data channel to open."""
        async def open_channel():
            while self.channel is None or self.channel.readyState != "open":
                await asyncio.sleep(0.05)
        await asyncio.wait_for(open_channel(), TIMEOUT)

    async def close(self):
        await self.pc.close()
        await asyncio.to_thread(self.socket.disconnect)


async def call_through_ridewire(url, caller, callee, relay_only=False):
    """`caller` starts a meeting and joins, `callee` (relay-only, if asked) joins and
    offers a data channel; both send a message over it. `(caller's peer, callee's
    peer, [what the caller received, what the callee received])`, once connected."""
    first = Peer(url, caller)
    second = Peer(url, callee, relay_only=relay_only)
    try:
        room = (await first.emit("call-start", {"kind": "meeting"}))["room"]
        assert (await first.emit("call-join", {"room": room}))["ok"]
        joined = await second.emit("call-join", {"room": room})
        assert [member["accountId"] for member in joined["members"]] == [first.id, second.id]
        await second.offer(room, first.id)
        await first.negotiate_until_done()  # the offer and its candidates; answers
        await second.negotiate_until_done()  # the answer and its candidates
        await asyncio.gather(first.connected(), second.connected())
        second.channel.send(f"hello from {second.id}")
        first.channel.send(f"hello from {first.id}")
        received = await asyncio.gather(
            asyncio.wait_for(first.messages.get(), TIMEOUT),
            asyncio.wait_for(second.messages.get(), TIMEOUT))
        return first, second, received
    finally:
        await asyncio.gather(first.close(), second.close())
