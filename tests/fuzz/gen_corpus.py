#!/usr/bin/env python3
"""tests/fuzz/gen_corpus.py - (re)write the hand-made seed corpora.

    python3 tests/fuzz/gen_corpus.py

Writes corpus/client/seed-* (one websocket message each) and corpus/ipc/seed-*
(a byte stream of IPC frames each; see proto/ipc.h).  Files found by fuzzing
(fuzz-<hash>: inputs that added coverage, crash-<hash>: fixed findings) are
left alone.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

WS_OPEN, WS_TEXT, WS_CLOSE, HTTP_REQUEST, HTTP_RESPONSE = 1, 2, 3, 4, 5
HELLO, HEARTBEAT, START, CANDIDATE, ANSWER, STOP, DONE, ERROR = range(16, 24)

SDP = ("v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
       "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
       "a=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n"
       "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
       "a=sendonly\r\na=rtpmap:96 VP8/90000\r\n")
CAND = "candidate:842163049 1 udp 1677729535 10.77.0.2 50000 typ srflx raddr 0.0.0.0 rport 0 generation 0"


def j(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()


def frame(t, ident, payload):
    return struct.pack(">HHIQ", 0x5756, t, len(payload), ident) + payload


def write(sub, name, data):
    d = os.path.join(HERE, "corpus", sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


client = {
    "start": j({"id": "start", "sdpOffer": SDP}),
    "start-loopback": j({"id": "start", "sdpOffer": SDP, "loopback": True}),
    "start-loopback-false": j({"id": "start", "sdpOffer": "v=0\nm=video 9 RTP/AVP 96\n", "loopback": False}),
    "bad-offer-no-media": j({"id": "start", "sdpOffer": "v=0\r\ns=-\r\n"}),
    "cand-both": j({"id": "onIceCandidate", "candidate": {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0}}),
    "cand-mid-only": j({"id": "onIceCandidate", "candidate": {"candidate": CAND, "sdpMid": "1"}}),
    "cand-index-only": j({"id": "onIceCandidate", "candidate": {"candidate": CAND, "sdpMLineIndex": 1}}),
    "cand-null-mid": j({"id": "onIceCandidate", "candidate": {"candidate": CAND, "sdpMid": None, "sdpMLineIndex": 0}}),
    "cand-end": j({"id": "onIceCandidate", "candidate": {"candidate": ""}}),
    "cand-browser": j({"id": "onIceCandidate", "candidate": {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0,
                                                              "usernameFragment": "Xk3p"}}),
    "stop": j({"id": "stop"}),
    "stop-extra": j({"id": "stop", "x": [1, 2.5, None, True, {"y": "z"}]}),
    "unicode": j({"id": "start", "sdpOffer": "v=0\r\ns=caf\u00e9 \u20ac \U0001f3a5\r\n"}),
    "escapes": b'{"id":"st\\u0061rt","sdpOffer":"\\ud83c\\udfa5\\n\\t\\"\\\\\\/"}',
    # invalid ones
    "bad-json": b'{"id":"start","sdpOffer":',
    "bad-array": b'[{"id":"stop"}]',
    "bad-dup": b'{"id":"stop","id":"start"}',
    "bad-unknown-id": j({"id": "x" + "\u00e9" * 40}),
    "bad-index": j({"id": "onIceCandidate", "candidate": {"candidate": "c", "sdpMLineIndex": -1}}),
    "bad-index-real": b'{"id":"onIceCandidate","candidate":{"candidate":"c","sdpMLineIndex":1e3}}',
    "bad-neither": j({"id": "onIceCandidate", "candidate": {"candidate": "c"}}),
    "bad-empty-offer": j({"id": "start", "sdpOffer": ""}),
    "bad-utf8": b'{"id":"stop","x":"\xc3"}',
    "bad-nul": b'{"id":"stop"}\x00',
    "bad-deep": b"[" * 3000,
    "empty": b"",
}

ipc_payloads = {
    "hello": (HELLO, 0, j({"pid": 4242})),
    "heartbeat": (HEARTBEAT, 7, j({"state": "recording", "bytes": 123456})),
    "start": (START, 7, j({"session": "s-7", "sdp": SDP, "key": "0123456789abcdef0123456789abcdef",
                           "spool_dir": "/var/lib/webrtc-video/spool",
                           "storage_dir": "/var/lib/webrtc-video/recordings",
                           "url_base": "http://10.77.0.1:8080/recordings/",
                           "ice_addresses": ["10.77.0.1", "fd00::1"], "loopback": False})),
    "candidate": (CANDIDATE, 7, j({"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0})),
    "candidate-end": (CANDIDATE, 7, j({"candidate": "", "sdpMid": None, "sdpMLineIndex": None})),
    "answer": (ANSWER, 7, j({"sdp": SDP})),
    "stop": (STOP, 7, b"{}"),
    "done": (DONE, 7, j({"key": "abc.webm", "url": "http://10.77.0.1:8080/recordings/abc.webm",
                         "bytes": 987654, "duration_ms": 61000})),
    "error": (ERROR, 7, j({"message": "pipeline failed", "fatal": True})),
    "ws-open": (WS_OPEN, 3, j({"path": "/api/recorder", "peer": "10.77.0.2", "host": "10.77.0.1:8080"})),
    "ws-text": (WS_TEXT, 3, client["start"]),
    "ws-close": (WS_CLOSE, 3, b"going away"),
    "http-request": (HTTP_REQUEST, 4, j({"method": "GET", "path": "/sessions", "accept": "*/*"})),
    "http-response": (HTTP_RESPONSE, 4, j({"status": 200, "content_type": "text/plain", "body": "0\n"})),
}

for name, data in client.items():
    write("client", name, data)

for name, (t, ident, payload) in ipc_payloads.items():
    write("ipc", name, frame(t, ident, payload))

# Several frames in one stream, both links.
write("ipc", "stream-worker", b"".join(frame(*ipc_payloads[n]) for n in
                                       ("hello", "start", "candidate", "answer", "heartbeat", "stop", "done")))
write("ipc", "stream-transport", b"".join(frame(*ipc_payloads[n]) for n in
                                          ("ws-open", "ws-text", "http-request", "http-response", "ws-close")))
# Edge cases of the framing.
write("ipc", "empty-payload", frame(WS_CLOSE, 0, b""))
write("ipc", "max-id", frame(WS_TEXT, 2**64 - 1, b"x"))
write("ipc", "partial-header", frame(*ipc_payloads["hello"])[:9])
write("ipc", "partial-payload", frame(*ipc_payloads["answer"])[:40])
write("ipc", "bad-magic", b"\x57\x57" + frame(*ipc_payloads["stop"])[2:])
write("ipc", "bad-type", struct.pack(">HHIQ", 0x5756, 24, 2, 1) + b"{}")
write("ipc", "oversized", struct.pack(">HHIQ", 0x5756, WS_TEXT, 1024 * 1024 + 1, 1))
write("ipc", "frame-then-garbage", frame(*ipc_payloads["stop"]) + b"GET / HTTP/1.1\r\n")
# Payloads with schema violations, framed.
write("ipc", "start-17-addresses", frame(START, 1, j({"session": "s", "sdp": "v=0", "key": "k", "spool_dir": "/a",
                                                       "storage_dir": "/b", "url_base": "http://x/",
                                                       "ice_addresses": ["10.0.0.%d" % i for i in range(17)]})))
write("ipc", "http-response-wrap", frame(HTTP_RESPONSE, 4, b'{"status":4294967496,"content_type":"t","body":""}'))
write("ipc", "error-utf8-cut", frame(ERROR, 1, j({"message": "\u20ac" * 400, "fatal": False})))
# Raw JSON payloads (first byte is not the magic: decoded whole, see fuzz_ipc.c).
write("ipc", "raw-done", ipc_payloads["done"][2])
write("ipc", "raw-candidate-mid", j({"candidate": CAND, "sdpMid": "audio"}))
write("ipc", "raw-heartbeat", ipc_payloads["heartbeat"][2])

# Workspaces (seed 004): events, and tokens (the target also verifies its
# whole input as a token).  The signed ones use fuzz_workspaces.c's FUZZ_KEY.
import base64, hashlib, hmac  # noqa: E402


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(claims, header=None, key=b"fuzzing key, not a secret anywhere"):
    h = b64u(j(header or {"alg": "HS256", "typ": "JWT"}))
    p = b64u(j(claims))
    s = b64u(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
    return h + "." + p + "." + s


TOK = token({"workspace": "Ab3dE6gH9k", "attendee": "a1", "role": "owner", "iat": 1699999000, "exp": 1800000000})
OFFER = {"type": "offer", "sdp": SDP}
workspaces = {
    "create": j({"event": "create", "data": {"name": "Team", "pin": "123456", "host": "Ann"}}),
    "create-bare": j({"event": "create"}),
    "attend": j({"event": "attend", "token": token({"workspace": "Ab3dE6gH9k", "role": "share", "iat": 1, "exp": 1800000000}),
                 "data": {"name": "Bo", "pin": "123456"}}),
    "re-attend": j({"event": "re-attend", "token": TOK}),
    "destroy": j({"event": "destroy", "token": TOK}),
    "leave": j({"event": "leave", "token": TOK, "data": None}),
    "ring": j({"event": "ring", "token": TOK, "data": {"to": "a2", "offer": OFFER}}),
    "answer": j({"event": "answer", "token": TOK, "data": {"answer": {"type": "answer", "sdp": SDP}}}),
    "busy": j({"event": "busy", "token": TOK}),
    "hangup": j({"event": "hangup", "token": TOK, "data": {"to": "a2"}}),
    "iceservers": j({"event": "iceservers", "token": TOK}),
    "icecandidate": j({"event": "icecandidate", "token": TOK,
                       "data": {"to": "a2", "candidate": {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0}}}),
    "negotiation": j({"event": "negotiation", "token": TOK, "data": {"to": "a2", "description": OFFER}}),
    "token-bare": TOK.encode(),
    "token-share": token({"workspace": "w", "role": "share", "iat": 1, "exp": 1800000000}).encode(),
    "bad-token-none": token({"workspace": "w", "attendee": "a", "role": "owner", "iat": 1, "exp": 1800000000},
                            {"alg": "none"}).encode(),
    "bad-token-hs512": token({"workspace": "w", "attendee": "a", "role": "owner", "iat": 1, "exp": 1800000000},
                             {"alg": "HS512", "typ": "JWT"}).encode(),
    "bad-token-expired": token({"workspace": "w", "attendee": "a", "role": "owner", "iat": 1, "exp": 2}).encode(),
    "bad-token-segments": b"eyJhbGciOiJIUzI1NiJ9..",
    "bad-event": j({"event": "party", "token": TOK}),
    "bad-no-token": j({"event": "leave"}),
    "bad-ring-offer": j({"event": "ring", "token": TOK, "data": {"to": "a2", "offer": {"type": "answer"}}}),
    "bad-json": b'{"event":"create","data":',
}
for name, data in workspaces.items():
    write("workspaces", name, data)

# the workspaces storage file (proto/workspaces_file.c)
PIN = "pbkdf2:sha256:1000$fuzzsalt$" + __import__("hashlib").pbkdf2_hmac(
    "sha256", b"123456", b"fuzzsalt", 1000).hex()
ANN = {"id": "0123456789abcdef", "name": "Ann", "owner": True}
BOB = {"id": "fedcba9876543210", "name": "Bob", "owner": False}
WS = {"id": "Ab3dE6gH9k", "name": "Team", "created": 1700000000, "active": 1700003600,
      "attendees": [ANN, BOB]}
workspaces_file = {
    "empty": j({"version": 1, "workspaces": []}),
    "two": j({"version": 1, "workspaces": [dict(WS, pin_hash=PIN),
                                           {"id": "Zz", "name": "Other", "created": 5,
                                            "pin_hash": None, "attendees": []}]}),
    "bad-version": j({"version": 2, "workspaces": []}),
    "bad-dup-workspace": j({"version": 1, "workspaces": [WS, WS]}),
    "bad-dup-attendee": j({"version": 1, "workspaces": [dict(WS, attendees=[ANN, ANN])]}),
    "bad-pin": j({"version": 1, "workspaces": [dict(WS, pin_hash="123456")]}),
    "bad-attendee": j({"version": 1, "workspaces": [dict(WS, attendees=[{"id": "a", "name": "A"}])]}),
    "bad-json": b'{"version":1,"workspaces":[{"id":',
}
for name, data in workspaces_file.items():
    write("workspaces_file", name, data)
