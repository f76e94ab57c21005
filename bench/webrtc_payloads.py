"""Synthetic WebRTC signaling payloads of real sizes, for the signaling bench: SDP
offers and answers shaped like a browser's (audio and video in one bundle, 3-5 KB)
and ICE candidates (~200 bytes of JSON, as `RTCIceCandidate.toJSON()` gives). The
server relays them untouched; only their sizes and JSON shape matter."""
import json
import random

AUDIO_CODECS = [(111, "opus/48000/2", "minptime=10;useinbandfec=1"), (63, "red/48000/2", "111/111"),
                (9, "G722/8000", None), (0, "PCMU/8000", None), (8, "PCMA/8000", None),
                (13, "CN/8000", None), (110, "telephone-event/48000", None),
                (126, "telephone-event/8000", None)]
VIDEO_CODECS = [("VP8/90000", None), ("VP9/90000", "profile-id=0"), ("VP9/90000", "profile-id=2"),
                ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=42001f"),
                ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=0;"
                 "profile-level-id=42001f"),
                ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=42e01f"),
                ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=4d001f"),
                ("AV1/90000", "level-idx=5;profile=0;tier=0"),
                ("H264/90000", "level-asymmetry-allowed=1;packetization-mode=1;"
                 "profile-level-id=64001f"),
                ("H265/90000", "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST")]
EXTMAPS = ["urn:ietf:params:rtp-hdrext:toffset",
           "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
           "urn:3gpp:video-orientation",
           "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
           "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
           "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
           "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
           "http://www.webrtc.org/experiments/rtp-hdrext/color-space",
           "urn:ietf:params:rtp-hdrext:sdes:mid"]
HEX = "0123456789ABCDEF"


def _token(rng, n, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"):
    return "".join(rng.choice(alphabet) for _ in range(n))


def _session(rng, setup):
    ufrag, pwd = _token(rng, 4), _token(rng, 24)
    fingerprint = ":".join(rng.choice(HEX) + rng.choice(HEX) for _ in range(32))
    return [f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}", "a=ice-options:trickle",
            f"a=fingerprint:sha-256 {fingerprint}", f"a=setup:{setup}"]


def _audio(rng, transport, stream):
    ssrc = rng.randrange(1 << 32)
    lines = [f"m=audio 9 UDP/TLS/RTP/SAVPF {' '.join(str(c[0]) for c in AUDIO_CODECS)}",
             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", *transport, "a=mid:0",
             "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=sendrecv",
             f"a=msid:{stream} {_token(rng, 36)}", "a=rtcp-mux", "a=rtcp-rsize"]
    for payload, name, fmtp in AUDIO_CODECS:
        lines.append(f"a=rtpmap:{payload} {name}")
        if fmtp:
            lines.append(f"a=fmtp:{payload} {fmtp}")
    lines += [f"a=ssrc:{ssrc} cname:{_token(rng, 16)}", f"a=ssrc:{ssrc} msid:{stream}"]
    return lines


def _video(rng, transport, stream, codecs):
    payloads = [96 + 2 * n for n in range(codecs)]
    lines = [f"m=video 9 UDP/TLS/RTP/SAVPF {' '.join(f'{p} {p + 1}' for p in payloads)}",
             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", *transport, "a=mid:1",
             *(f"a=extmap:{n + 2} {uri}" for n, uri in enumerate(EXTMAPS)), "a=sendrecv",
             f"a=msid:{stream} {_token(rng, 36)}", "a=rtcp-mux", "a=rtcp-rsize"]
    for payload, (name, fmtp) in zip(payloads, VIDEO_CODECS * 2, strict=False):
        lines += [f"a=rtpmap:{payload} {name}", f"a=rtcp-fb:{payload} goog-remb",
                  f"a=rtcp-fb:{payload} transport-cc", f"a=rtcp-fb:{payload} ccm fir",
                  f"a=rtcp-fb:{payload} nack", f"a=rtcp-fb:{payload} nack pli"]
        if fmtp:
            lines.append(f"a=fmtp:{payload} {fmtp}")
        lines += [f"a=rtpmap:{payload + 1} rtx/90000", f"a=fmtp:{payload + 1} apt={payload}"]
    ssrc, rtx = rng.randrange(1 << 32), rng.randrange(1 << 32)
    lines += [f"a=ssrc-group:FID {ssrc} {rtx}", f"a=ssrc:{ssrc} cname:{_token(rng, 16)}",
              f"a=ssrc:{rtx} cname:{_token(rng, 16)}"]
    return lines


def sdp(rng, kind, target):
    """An `offer` or `answer` SDP of at most about `target` bytes (as many video codecs
    as fit, as browsers list more or fewer)."""
    stream = _token(rng, 36)
    transport = _session(rng, "actpass" if kind == "offer" else "active")
    head = ["v=0", f"o=- {rng.randrange(10 ** 18)} 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
            "a=group:BUNDLE 0 1", "a=extmap-allow-mixed", f"a=msid-semantic: WMS {stream}"]
    audio = _audio(rng, transport, stream)
    text = None
    for codecs in range(1, 2 * len(VIDEO_CODECS) + 1):
        longer = "\r\n".join(head + audio + _video(rng, transport, stream, codecs)) + "\r\n"
        if text is not None and len(longer) > target:
            break
        text = longer
    return text


def description(rng, kind):
    """`{type, sdp}` as `RTCSessionDescription.toJSON()`, 3-5 KB."""
    return {"type": kind, "sdp": sdp(rng, kind, rng.randrange(3000, 5000))}


def candidate(rng, mline):
    """An ICE candidate as `RTCIceCandidate.toJSON()`: host or server-reflexive."""
    foundation, port = rng.randrange(1 << 32), rng.randrange(40000, 60000)
    address = f"198.51.100.{rng.randrange(1, 255)}"
    ufrag = _token(rng, 4)
    if rng.random() < 0.5:
        text = (f"candidate:{foundation} 1 udp 2122260223 {address} {port} typ host "
                f"generation 0 ufrag {ufrag} network-id 1 network-cost 10")
    else:
        text = (f"candidate:{foundation} 1 udp 1686052607 203.0.113.{rng.randrange(1, 255)} "
                f"{port} typ srflx raddr {address} rport {port} generation 0 ufrag {ufrag} "
                f"network-id 1 network-cost 10")
    return {"candidate": text, "sdpMid": str(mline), "sdpMLineIndex": mline,
            "usernameFragment": ufrag}


def pool(seed, size=32):
    """Pre-built payloads, so that a load client spends its CPU on sending them:
    {"offer": [...], "answer": [...], "candidate": [...]} as JSON-ready objects."""
    rng = random.Random(seed)
    return {"offer": [description(rng, "offer") for _ in range(size)],
            "answer": [description(rng, "answer") for _ in range(size)],
            "candidate": [candidate(rng, n % 2) for n in range(4 * size)]}


def sizes(payloads):
    """Bytes of JSON of each kind: min, mean, max (what the results report)."""
    out = {}
    for kind, items in payloads.items():
        lengths = [len(json.dumps(item)) for item in items]
        out[kind] = {"min": min(lengths), "mean": round(sum(lengths) / len(lengths)),
                     "max": max(lengths)}
    return out
