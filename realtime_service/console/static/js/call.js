// The ride's call: a Call button while the ride is accepted or ongoing, the ringing of
// `incoming-call` with Answer and Decline, and a panel with the local and the remote
// video. The realtime service keeps the room and relays offers, answers and ICE
// candidates (`signal`) between its members; the media flows browser to browser.
// The joiner offers: a join's acknowledgement lists the members already there, and
// they wait for its offer (`call-member-joined`).
import { $, busy, h, show } from "./dom.js";

const CALLABLE = ["accepted", "ongoing"];
const ACK_MS = 10_000;
const OTHER = { user: "captain", captain: "rider" };
const ENDED = {
  ended: "The call ended",
  left: "The call ended: everyone left",
  "ride-ended": "The ride ended, and its call with it",
  "ride-cancelled": "The ride was cancelled, and its call with it",
  replaced: "The call went on in another tab or device",
};

/** Returns {setRide(ride)}: the panel's ride code says which ride may be called about. */
export function mountCall(session) {
  const slot = $("[data-slot=call]", session.panel);
  slot.replaceChildren($("#tpl-call").content.cloneNode(true));
  const box = $("[data-box=call]", slot);
  const callButton = $("[data-action=call]", slot);
  const ringing = $("[data-field=incoming]", slot);
  const media = $("[data-field=media]", slot);
  const localVideo = $("[data-field=local-video]", slot);
  const tiles = $("[data-field=videos]", slot);
  const status = $("[data-field=call-status]", slot);
  const note = $("[data-field=call-note]", slot);
  callButton.textContent = `Call your ${OTHER[session.role]}`;
  localVideo.muted = true; // your own voice is not played back to you
  let ride = null;
  let incoming = null; // the ringing `incoming-call`
  let call = null; // {room, rideId, iceServers, stream, peers: Map(account id -> peer), names}

  function render() {
    const callable = Boolean(ride && CALLABLE.includes(ride.status));
    show(callButton, callable && !call);
    show(ringing, Boolean(incoming) && !call);
    show(media, Boolean(call));
    show(box, callable || Boolean(incoming) || Boolean(call));
  }

  function tell(text) {
    note.textContent = text || "";
    show(note, Boolean(text));
  }

  /** Emit `event` and wait for its acknowledgement; a refusal throws its message. */
  async function ask(event, payload) {
    if (!session.socket?.connected) throw new Error("Socket not connected");
    const reply = await session.socket.timeout(ACK_MS).emitWithAck(event, payload);
    if (reply?.ok === false) throw new Error(`${event}: ${reply.message}`);
    return reply;
  }

  /** The camera and microphone, the microphone alone, or nothing (receive only). */
  async function localMedia() {
    if (!navigator.mediaDevices) {
      tell("No camera or microphone here: a page needs https (or localhost) for them");
      return null;
    }
    for (const constraints of [{ audio: true, video: true }, { audio: true }]) {
      try {
        return await navigator.mediaDevices.getUserMedia(constraints);
      } catch (error) {
        tell(`No ${constraints.video ? "camera" : "microphone"}: ${error.message}`);
      }
    }
    return null;
  }

  // --- peers: one RTCPeerConnection per other member ----------------------------

  function peerOf(accountId) {
    if (call.peers.has(accountId)) return call.peers.get(accountId);
    const pc = new RTCPeerConnection({ iceServers: call.iceServers });
    if (call.stream) {
      for (const track of call.stream.getTracks()) pc.addTrack(track, call.stream);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    const video = h("video", { autoplay: true, playsinline: true,
      dataset: { field: "remote-video", peer: accountId } });
    const tile = h("figure", { class: "tile" }, video,
      h("figcaption", {}, call.names.get(accountId) || "Other party"));
    tiles.append(tile);
    // `early`: candidates that came before the description they belong to.
    const peer = { pc, tile, queue: Promise.resolve(), early: [] };
    const room = call.room;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) signal(room, accountId, candidate.toJSON());
    };
    pc.ontrack = ({ streams }) => {
      if (video.srcObject !== streams[0]) video.srcObject = streams[0];
    };
    pc.onconnectionstatechange = () => {
      tile.dataset.state = pc.connectionState;
      if (call?.room === room) setStatus();
    };
    call.peers.set(accountId, peer);
    return peer;
  }

  function closePeer(accountId) {
    const peer = call?.peers.get(accountId);
    if (!peer) return;
    peer.pc.close();
    peer.tile.remove();
    call.peers.delete(accountId);
  }

  /** Run `step` after the peer's earlier steps: descriptions and candidates in order. */
  function queue(accountId, step) {
    const peer = peerOf(accountId);
    peer.queue = peer.queue.then(() => step(peer)).catch((error) => {
      if (call?.peers.get(accountId) === peer) tell(`Call: ${error.message}`);
    });
  }

  function signal(room, to, data) {
    ask("signal", { room, to, data }).catch((error) => tell(error.message));
  }

  function offerTo(accountId) {
    const room = call.room;
    queue(accountId, async ({ pc }) => {
      await pc.setLocalDescription();
      signal(room, accountId, pc.localDescription.toJSON());
    });
  }

  function receive({ room, from, data }) {
    if (call?.room !== room || !data) return;
    queue(from, async (peer) => {
      const { pc } = peer;
      if (data.type === "offer" || data.type === "answer") {
        await pc.setRemoteDescription(data);
        for (const candidate of peer.early.splice(0)) await pc.addIceCandidate(candidate);
        if (data.type === "offer") {
          await pc.setLocalDescription();
          signal(room, from, pc.localDescription.toJSON());
        }
      } else if (data.candidate !== undefined) {
        if (pc.remoteDescription) await pc.addIceCandidate(data);
        else peer.early.push(data);
      }
    });
  }

  function setStatus() {
    const states = [...call.peers.values()].map((peer) => peer.pc.connectionState);
    status.textContent = states.includes("connected") ? "Connected"
      : states.length ? "Connecting…" : `Ringing your ${OTHER[session.role]}…`;
    status.dataset.state = states.includes("connected") ? "connected" : "waiting";
  }

  // --- joining, leaving ----------------------------------------------------------

  async function join(room, rideId) {
    const { iceServers } = await session.realtime("GET", "/calls/ice-servers");
    const stream = await localMedia();
    if (call) { // joined meanwhile
      for (const track of stream?.getTracks() || []) track.stop();
      return;
    }
    call = { room, rideId, iceServers, stream, peers: new Map(), names: new Map() };
    localVideo.srcObject = stream;
    show(localVideo.closest(".tile"), Boolean(stream?.getVideoTracks().length));
    setStatus();
    render();
    let joined;
    try {
      joined = await ask("call-join", { room });
    } catch (error) {
      hangUp();
      throw error;
    }
    incoming = null;
    for (const member of joined.members) {
      call.names.set(member.accountId, member.name);
      if (member.accountId !== session.id) offerTo(member.accountId);
    }
    setStatus();
    render();
  }

  /** Close the call here: its peer connections, the camera, the panel. */
  function hangUp(text) {
    if (call) {
      for (const accountId of [...call.peers.keys()]) closePeer(accountId);
      for (const track of call.stream?.getTracks() || []) track.stop();
      localVideo.srcObject = null;
      call = null;
    }
    tell(text);
    render();
  }

  callButton.addEventListener("click", (event) => busy(event.currentTarget, async () => {
    tell("");
    const started = await ask("call-start", { kind: "ride", rideId: ride._id });
    await join(started.room, started.rideId);
  }, (error) => tell(error.message)));

  $("[data-action=answer]", slot).addEventListener("click", (event) =>
    busy(event.currentTarget, () => join(incoming.room, incoming.rideId),
      (error) => tell(error.message)));

  $("[data-action=decline]", slot).addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const { room } = incoming;
      incoming = null;
      render();
      await ask("call-end", { room }); // declining a ringing call is ending it
    }, (error) => tell(error.message)));

  $("[data-action=hang-up]", slot).addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const room = call?.room;
      hangUp("You hung up");
      if (room) await ask("call-end", { room }); // a ride call ends for both, as a phone call
    }, (error) => tell(error.message)));

  // --- pushes --------------------------------------------------------------------

  session.on("incoming-call", (data) => {
    if (data.kind !== "ride" || call?.room === data.room) return;
    incoming = data;
    $("[data-field=incoming-text]", slot).textContent =
      `${data.from.name || `Your ${OTHER[session.role]}`} is calling about ride ${data.rideId}`;
    tell("");
    render();
  });
  session.on("call-member-joined", ({ room, member }) => {
    if (call?.room !== room) return;
    call.names.set(member.accountId, member.name);
    closePeer(member.accountId); // a rejoin: its offer comes on a fresh connection
    status.textContent = `${member.name || "The other party"} joined, connecting…`;
  });
  session.on("call-member-left", ({ room, accountId }) => {
    if (call?.room !== room) return;
    closePeer(accountId);
    setStatus();
  });
  session.on("signal", receive);
  session.on("call-ended", ({ room, reason }) => {
    if (incoming?.room === room) incoming = null;
    if (call?.room === room) hangUp(ENDED[reason] || `The call ended (${reason})`);
    else render();
  });
  session.on("disconnect", () => {
    // The server takes a closed socket out of its rooms; Call joins again.
    if (call) hangUp("Connection lost: the call dropped (call again to rejoin)");
    incoming = null;
    render();
  });
  session.onSignOut(() => {
    ride = null;
    incoming = null;
    hangUp("");
  });
  render();

  return {
    setRide(next) {
      ride = next;
      // The server closes a ride's call when the ride ends; so does this page, at once.
      if (call && !(ride?._id === call.rideId && CALLABLE.includes(ride.status))) {
        hangUp(ride?._id === call.rideId ? `The ride is ${ride.status}: call closed` : "");
      }
      render();
    },
  };
}
