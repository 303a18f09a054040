#!/usr/bin/python3
"""tests/signaling/test_workspaces.py - end-to-end test of /workspaces (seed 004).

Black-box, with real websocket clients (python3-websockets) against the built
server, which the test starts itself on a free port of 127.0.0.1 with its own
config file, storage dir and control socket. Groups (one meson test each):

  events       every event both ways, owner-only rules, leave, re-attend after
               a dropped connection, destroy disconnecting everyone, malformed
               events, counts in /signaling and the control socket's status
  security     tampered, expired, alg:none, HS512 and foreign tokens; wrong
               PINs (per connection and per workspace); capacity (the 6th is
               alerted and closed); a weak secret refused at start-up
  persistence  workspaces survive a restart (old tokens still work, the PIN
               is still asked), the file holds no PIN or token; a corrupt
               file stops the start-up with a clear error
  turn         a real coturn on loopback (use-auth-secret): turnutils_uclient
               allocates a relay with the credentials from `iceservers`, and
               fails with tampered or expired ones
  call         (inside tests/lib/netns.sh, as root) two aiortc peers exchange
               ring/answer/icecandidate through /workspaces (candidates only
               as icecandidate events, never in the SDP) and each decodes the
               other's video

Every check prints `ok NAME` or `FAIL NAME: reason`; exit status 1 if any
failed, 2 on a setup error.

    /usr/bin/python3 tests/signaling/test_workspaces.py --master build/master/webrtc-video \\
        --worker build/worker/webrtc-video-worker --case events
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
sys.path.insert(0, HERE)
from harness import CaseFailed, free_port, require  # noqa: E402
from test_signaling import Client, Server, TIMEOUT  # noqa: E402

SECRET = "test-secret: Zq8#Lw2!mVx5@Rt9$Kp3&Nf7*Hd1^Gb6"
TURN_SECRET = "turn-secret-4f9a1c77e2b04d18"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(claims, header=None, key=SECRET.encode(), alg=hashlib.sha256):
    """An independent JWT: Python's json, base64 and hmac."""
    h = b64u(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64u(json.dumps(claims).encode())
    sig = b64u(hmac.new(key, f"{h}.{p}".encode(), alg).digest())
    return f"{h}.{p}.{sig}"


def claims_of(token):
    return json.loads(unb64u(token.split(".")[1]))


def write_config(tmp, extra=""):
    path = os.path.join(tmp, "ws.conf")
    with open(path, "w") as f:
        f.write(f"[workspaces]\nsecret = {SECRET}\nmax-capacity = 5\n"
                f"pin-iterations = 20000\n{extra}")
    return path


def start_server(args, config):
    return Server(args.master, args.worker, ("--config", config))


def stop_clean(srv):
    """For a case's `finally`: SIGTERM the server and require a clean exit.
    Its directory (master log, control socket) is removed only when the exit
    was clean and no exception is on its way out of the case; otherwise it
    is kept and named."""
    failing = sys.exc_info()[0] is not None
    status = srv.stop(keep=True)
    if failing or status != 0:
        print(f"# master log kept in {srv.log_path}", flush=True)
    else:
        shutil.rmtree(srv.tmp, ignore_errors=True)
    require(status == 0, "clean exit")


class WsClient(Client):
    """A /workspaces client: sends envelopes, remembers its token."""

    token = None
    info = None

    @classmethod
    async def open_ws(cls, srv, name):
        return await cls.open(srv.url("/workspaces"), name)

    async def event(self, event, data=None, token="own"):
        msg = {"event": event}
        tok = self.token if token == "own" else token
        if tok is not None:
            msg["token"] = tok
        if data is not None:
            msg["data"] = data
        await self.send(msg)

    async def expect(self, event, timeout=TIMEOUT):
        m = await self.recv(timeout)
        require(m.get("event") == event, f"{self.name}: expected {event}, got {m}")
        require(isinstance(m.get("data"), dict), f"{self.name}: {event} without data: {m}")
        return m

    async def alert(self, contains, event=None):
        m = await self.recv()
        require(m.get("event") == "alert", f"{self.name}: expected an alert ({contains}), got {m}")
        msg = m["data"].get("message", "")
        require(contains in msg, f"{self.name}: alert '{msg}' lacks '{contains}'")
        if event:
            require(m["data"].get("event") == event, f"{self.name}: alert for {m['data']}")
        return msg


async def create(srv, name="owner", pin=None, ws_name="Team"):
    o = await WsClient.open_ws(srv, name)
    data = {"name": ws_name, "host": name}
    if pin:
        data["pin"] = pin
    await o.event("create", data, token=None)
    m = await o.expect("create")
    d = m["data"]
    require(re.fullmatch(r"[A-Za-z0-9]{10}", d["workspace"]) is not None,
            f"workspace id {d['workspace']!r}: 10 alphanumerics expected")
    require(d["owner"] is True and d["name"] == name and d["workspace_name"] == ws_name, f"{d}")
    c = claims_of(m["token"])
    require(c["role"] == "owner" and c["workspace"] == d["workspace"]
            and c["attendee"] == d["attendee"] and c["exp"] > c["iat"], f"owner claims {c}")
    require(claims_of(d["access"])["role"] == "share", f"access token {claims_of(d['access'])}")
    o.token, o.info, o.access = m["token"], d, d["access"]
    return o


async def attend(srv, owner, name, pin=None, expect_ring=False):
    a = await WsClient.open_ws(srv, name)
    data = {"name": name}
    if pin:
        data["pin"] = pin
    await a.event("attend", data, token=owner.access)
    m = await a.expect("attend")
    a.token, a.info = m["token"], m["data"]
    require(a.info["name"] == name and a.info["owner"] is False, f"{a.info}")
    n = await owner.expect("attend")
    require(n["data"]["attendee"] == a.info["attendee"] and n["data"]["name"] == name, f"{n}")
    require(bool(n["data"].get("ring")) == expect_ring, f"owner's notice ring flag: {n}")
    return a


def status(srv):
    out = subprocess.run([os.path.join(os.path.dirname(srv.proc.args[0]), "ctl", "webrtc-videoctl"),
                          "-s", os.path.join(srv.tmp, "control.sock"), "--json", "status"],
                         capture_output=True, text=True, timeout=10)
    require(out.returncode == 0, f"webrtc-videoctl status: {out.stderr}")
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\ns=-\r\n"}
CAND = {"candidate": "candidate:1 1 udp 2122260223 10.77.0.2 50000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0}


async def events_lifecycle(srv, st):
    o = await create(srv, "ann")
    b = await attend(srv, o, "bob")
    c = await attend(srv, o, "cid")
    # bob heard of cid too; the newcomer's welcome lists everyone
    n = await b.expect("attend")
    require(n["data"]["attendee"] == c.info["attendee"], f"bob's notice {n}")
    require([x["name"] for x in c.info["attendees"]] == ["ann", "bob", "cid"], f"{c.info}")
    require(claims_of(b.token)["role"] == "attendee", f"{claims_of(b.token)}")
    cnt = srv.counts()
    require(cnt["workspaces"] == 1 and cnt["workspace_attendees"] == 3, f"/signaling {cnt}")
    s = status(srv)["signaling"]
    require(s["workspaces"] == 1 and s["workspace_attendees"] == 3, f"status {s}")
    st.update(o=o, b=b, c=c)


async def events_call(srv, st):
    o, b, c = st["o"], st["b"], st["c"]
    bid, cid, oid = b.info["attendee"], c.info["attendee"], o.info["attendee"]
    await o.event("ring", {"to": bid, "offer": OFFER})
    m = await b.expect("ring")
    require(m["data"] == {"from": oid, "offer": OFFER}, f"ring as received {m}")
    await c.quiet()  # only the addressee
    await b.event("answer", {"answer": ANSWER})
    m = await o.expect("answer")
    require(m["data"]["from"] == bid and m["data"]["answer"] == ANSWER, f"answer {m}")
    await o.event("icecandidate", {"to": bid, "candidate": CAND})
    m = await b.expect("icecandidate")
    require(m["data"] == {"from": oid, "candidate": CAND}, f"{m}")
    await b.event("icecandidate", {"to": oid, "candidate": {"candidate": ""}})
    m = await o.expect("icecandidate")
    require(m["data"]["candidate"] == {"candidate": ""}, f"end of candidates {m}")
    # negotiation between two attendees (neither is the owner)
    await b.event("negotiation", {"to": cid, "description": OFFER})
    m = await c.expect("negotiation")
    require(m["data"] == {"from": bid, "description": OFFER}, f"{m}")
    await c.event("negotiation", {"to": bid, "description": ANSWER})
    m = await b.expect("negotiation")
    require(m["data"]["description"] == ANSWER, f"{m}")
    # cid declines
    await o.event("ring", {"to": cid, "offer": OFFER})
    await c.expect("ring")
    await c.event("busy")
    m = await o.expect("busy")
    require(m["data"] == {"from": cid}, f"busy {m}")
    # a call is on (bob answered): a newcomer is announced with ring:true
    d = await attend(srv, o, "dee", expect_ring=True)
    await b.expect("attend")
    await c.expect("attend")
    await o.event("hangup", {"to": bid})
    m = await b.expect("hangup")
    require(m["data"] == {"from": oid}, f"hangup {m}")
    await c.quiet()
    # the call is over: the next newcomer is not rung
    await d.event("leave")
    await d.expect("leave")
    for x in (o, b, c):
        m = await x.expect("leave")
        require(m["data"]["attendee"] == d.info["attendee"], f"leave notice {m}")
    e = await attend(srv, o, "eve", expect_ring=False)
    for x in (b, c):
        await x.expect("attend")
    # hangup to everyone
    await o.event("hangup")
    for x in (b, c, e):
        m = await x.expect("hangup")
    await o.quiet()
    await d.event("iceservers")  # d left: its token is no longer any connection's
    await d.alert("attend (or re-attend) first", "iceservers")
    await d.close()
    st["e"] = e


async def events_owner_only(srv, st):
    o, b, c = st["o"], st["b"], st["c"]
    cid = c.info["attendee"]
    await b.event("ring", {"to": cid, "offer": OFFER})
    await b.alert("only the workspace's owner", "ring")
    await b.event("hangup")
    await b.alert("only the workspace's owner", "hangup")
    await b.event("destroy")
    await b.alert("only the workspace's owner", "destroy")
    await o.event("answer", {"answer": ANSWER})
    await o.alert("the owner rings", "answer")
    await o.event("busy")
    await o.alert("the owner rings", "busy")
    await c.quiet()
    await o.event("ring", {"to": "nobody", "offer": OFFER})
    await o.alert("no attendee 'nobody'", "ring")
    await o.event("ring", {"to": o.info["attendee"], "offer": OFFER})
    await o.alert("no attendee", "ring")
    require(srv.counts()["workspaces"] == 1, "still there")


async def events_reattend(srv, st):
    o, b, c = st["o"], st["b"], st["c"]
    bid = b.info["attendee"]
    b.ws.transport.abort()  # dropped, no leave
    await asyncio.sleep(0.3)
    await o.event("ring", {"to": bid, "offer": OFFER})
    await o.alert("is not connected", "ring")
    require(srv.counts()["workspace_attendees"] == 4, f"bob's record kept: {srv.counts()}")
    b2 = await WsClient.open_ws(srv, "bob-again")
    b2.token = b.token
    await b2.event("re-attend")
    m = await b2.expect("re-attend")
    require(m["data"]["attendee"] == bid and claims_of(m["token"])["attendee"] == bid, f"{m}")
    b2.token, b2.info = m["token"], m["data"]
    m = await o.expect("re-attend")
    require(m["data"]["attendee"] == bid, f"owner's re-attend notice {m}")
    await c.expect("re-attend")
    await st["e"].expect("re-attend")
    await o.event("ring", {"to": bid, "offer": OFFER})
    await b2.expect("ring")
    # a second re-attend with the same token takes over; the old one is closed
    b3 = await WsClient.open_ws(srv, "bob-third")
    b3.token = b2.token
    await b3.event("re-attend")
    m = await b3.expect("re-attend")
    b3.token, b3.info = m["token"], m["data"]
    await b2.alert("another connection")
    await b2.closed()
    for x in (o, c, st["e"]):
        await x.expect("re-attend")
    # the owner leaves: the workspace lives on, attendees still talk
    await o.event("leave")
    await o.expect("leave")
    for x in (b3, c, st["e"]):
        await x.expect("leave")
    await b3.event("negotiation", {"to": c.info["attendee"], "description": OFFER})
    await c.expect("negotiation")
    require(srv.counts()["workspaces"] == 1, f"{srv.counts()}")
    # ... and comes back with its owner token
    o2 = await WsClient.open_ws(srv, "ann-again")
    o2.token = o.token
    await o2.event("re-attend")
    m = await o2.expect("re-attend")
    require(m["data"]["owner"] is True, f"{m}")
    o2.token, o2.info, o2.access = m["token"], m["data"], o.access
    for x in (b3, c, st["e"]):
        await x.expect("re-attend")
    await o.close()
    st.update(o=o2, b=b3)


async def events_malformed(srv, st):
    c = st["c"]
    for text, want in [
        ("{", "malformed JSON"),
        ("[]", "must be a JSON object"),
        ('{"event":"dance","token":"x"}', "unknown event 'dance'"),
        ('{"event":"ring","token":"x","data":{"to":"a"}}', "ring: missing 'offer'"),
        ('{"event":"ring","token":"x","data":{"to":"a","offer":{"type":"offer"}}}',
         "'offer': missing 'sdp'"),
        ('{"event":"icecandidate","token":"x","data":{"to":"a","candidate":"c"}}',
         "'candidate' must be an object"),
        ('{"event":"attend","data":{}}', "attend: missing 'token'"),
        ('{"event":"create","data":{"pin":"12"}}', "'pin' must be 4 to 64"),
    ]:
        await c.send(text)
        await c.alert(want)
    await c.event("icecandidate", {"to": "x", "candidate": CAND}, token="garbage")
    await c.alert("three dot-separated segments", "icecandidate")
    # another connection's token on this connection
    await c.event("negotiation", {"to": st["b"].info["attendee"], "description": OFFER},
                  token=st["e"].token)
    await c.alert("not this connection's")
    await st["b"].quiet()
    # nothing broke: the connection still works
    await c.event("iceservers")
    m = await c.expect("iceservers")
    require(m["data"] == {"iceServers": []}, f"nothing configured, nothing handed out: {m}")


async def events_destroy(srv, st):
    o, b, c, e = st["o"], st["b"], st["c"], st["e"]
    await o.event("destroy")
    for x in (o, b, c, e):
        m = await x.expect("destroy")
        require(m["data"]["workspace"] == o.info["workspace"], f"{m}")
        await x.closed()
    await asyncio.sleep(0.2)
    cnt = srv.counts()
    require(cnt["workspaces"] == 0 and cnt["workspace_attendees"] == 0
            and cnt["signaling_connections"] == 0, f"after destroy: {cnt}")
    x = await WsClient.open_ws(srv, "late")
    await x.event("attend", {"name": "late"}, token=o.access)
    await x.alert("unknown workspace", "attend")
    x.token = b.token
    await x.event("re-attend")
    await x.alert("unknown workspace", "re-attend")
    await x.close()


EVENTS = [
    ("events/create-attend-counts", events_lifecycle),
    ("events/ring-answer-busy-hangup-ice-negotiation-leave", events_call),
    ("events/owner-only", events_owner_only),
    ("events/re-attend-after-drop", events_reattend),
    ("events/malformed", events_malformed),
    ("events/destroy-disconnects-everyone", events_destroy),
]


# ---------------------------------------------------------------------------
# security
# ---------------------------------------------------------------------------


async def security_tokens(srv, st):
    o = await create(srv, "ann")
    b = await attend(srv, o, "bob")
    ws, bid = o.info["workspace"], b.info["attendee"]
    now = int(time.time())
    good = {"workspace": ws, "attendee": bid, "role": "attendee", "iat": now, "exp": now + 600}
    # an independently made token verifies (and is accepted as bob's)
    await b.event("iceservers", token=make_token(good))
    await b.expect("iceservers")
    h, p, s = b.token.split(".")
    raised = b64u(json.dumps(dict(claims_of(b.token), role="owner")).encode())
    sig = bytearray(unb64u(s))
    sig[0] ^= 1
    none_header = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    cases = [
        ("tampered payload", f"{h}.{raised}.{s}", "signature mismatch"),
        ("tampered signature", f"{h}.{p}.{b64u(bytes(sig))}", "signature mismatch"),
        ("alg none", none_header + "." + b64u(json.dumps(dict(good, role="owner")).encode()) + ".",
         "algorithm none refused"),
        ("alg HS512", make_token(good, {"alg": "HS512", "typ": "JWT"}, alg=hashlib.sha512),
         "algorithm HS512 refused"),
        ("expired", make_token(dict(good, iat=now - 700, exp=now - 100)), "token expired"),
        ("wrong key", make_token(good, key=b"not the server's secret at all!!"), "signature mismatch"),
        ("kid header", make_token(good, {"alg": "HS256", "kid": "x"}), "'kid' refused"),
        ("two segments", f"{h}.{p}", "three dot-separated segments"),
    ]
    for what, token, want in cases:
        await b.event("hangup", token=token)
        msg = await b.alert(want)
        require("only the workspace's owner" not in msg, f"{what}: processed")
    await o.quiet()  # nothing reached the owner
    # a forged owner token (right key) is still refused for a connection that is bob's
    await b.event("destroy", token=make_token(dict(good, attendee=o.info["attendee"], role="owner")))
    await b.alert("not this connection's")
    require(srv.counts()["workspaces"] == 1, "not destroyed")
    # attend with an attendee token, re-attend with the access token
    x = await WsClient.open_ws(srv, "x")
    await x.event("attend", {"name": "x"}, token=b.token)
    await x.alert("access token", "attend")
    await x.event("re-attend", token=o.access)
    await x.alert("your own token", "re-attend")
    await x.event("attend", {}, token=make_token({"workspace": ws, "role": "share", "iat": now,
                                                  "exp": now - 1}))
    await x.alert("token expired")
    await x.close()
    st.update(o=o, b=b)


async def security_pins(srv, st):
    o = await create(srv, "pinned", pin="482915", ws_name="Locked")
    require(o.info.get("pin") is True, f"{o.info}")
    a = await WsClient.open_ws(srv, "guesser")
    await a.event("attend", {"name": "g"}, token=o.access)
    await a.alert("needs a PIN")
    await a.event("attend", {"name": "g", "pin": "000000"}, token=o.access)
    await a.alert("wrong PIN")
    await a.event("attend", {"name": "g", "pin": "111111"}, token=o.access)
    await a.alert("wrong PIN")
    await a.event("attend", {"name": "g", "pin": "222222"}, token=o.access)
    await a.alert("too many wrong PINs")
    await a.closed()  # three wrong PINs on one connection
    await o.quiet()  # the owner heard of nobody
    # the right PIN works
    good = await attend(srv, o, "friend", pin="482915")
    # the workspace accepts 5 wrong PINs in a burst, then refuses even to check
    g2 = await WsClient.open_ws(srv, "guesser2")
    await g2.event("attend", {"name": "g", "pin": "333333"}, token=o.access)
    await g2.alert("wrong PIN")
    await g2.event("attend", {"name": "g", "pin": "444444"}, token=o.access)
    await g2.alert("wrong PIN")
    g3 = await WsClient.open_ws(srv, "guesser3")
    await g3.event("attend", {"name": "g", "pin": "482915"}, token=o.access)
    await g3.alert("too many wrong PINs for this workspace")  # even the right one, for now
    await g3.close()
    await g2.close()
    await good.close()


async def security_capacity(srv, st):
    o = await create(srv, "full-owner")
    peers = [await attend(srv, o, f"p{i}") for i in range(4)]  # owner + 4 = 5
    for i, p in enumerate(peers):
        for q in peers[i + 1:]:
            await p.expect("attend")
    sixth = await WsClient.open_ws(srv, "sixth")
    await sixth.event("attend", {"name": "sixth"}, token=o.access)
    await sixth.alert("full", "attend")
    await sixth.closed()
    await o.quiet()
    # one leaves: there is room again
    await peers[0].event("leave")
    await peers[0].expect("leave")
    await o.expect("leave")
    await attend(srv, o, "next")
    for p in [o] + peers:
        await p.close()
    # create, leave, create...: five workspaces per connection
    looper = await WsClient.open_ws(srv, "looper")
    for i in range(5):
        await looper.event("create", {"name": f"w{i}"}, token=None)
        m = await looper.expect("create")
        looper.token = m["token"]
        await looper.event("leave")
        await looper.expect("leave")
    await looper.event("create", {"name": "w6"}, token=None)
    await looper.alert("created enough workspaces", "create")
    await looper.close()


def ctl(srv, *cmd):
    return subprocess.run([os.path.join(os.path.dirname(srv.proc.args[0]), "ctl", "webrtc-videoctl"),
                           "-s", os.path.join(srv.tmp, "control.sock"), *cmd],
                          capture_output=True, text=True, timeout=10)


async def security_rotation(srv, st):
    """A reloaded secret invalidates every token; a removed one disables the endpoint."""
    o, b = st["o"], st["b"]
    conf = srv.proc.args[srv.proc.args.index("--config") + 1]
    original = open(conf).read()
    try:
        with open(conf, "w") as f:
            f.write(original.replace(SECRET, SECRET[::-1] + "-rotated"))
        out = ctl(srv, "reload")
        require(out.returncode == 0, f"reload: {out.stdout} {out.stderr}")
        await b.event("iceservers")
        await b.alert("signature mismatch", "iceservers")
        x = await WsClient.open_ws(srv, "old-link")
        await x.event("attend", {"name": "x"}, token=o.access)
        await x.alert("signature mismatch")
        await x.close()
        with open(conf, "w") as f:
            f.write(original.replace(f"secret = {SECRET}\n", ""))
        require(ctl(srv, "reload").returncode == 0, "reload without a secret")
        await b.event("iceservers")
        await b.alert("disabled")
        y = await Client.open(srv.url("/workspaces"), "refused")
        await y.closed()
    finally:
        with open(conf, "w") as f:
            f.write(original)
    require(ctl(srv, "reload").returncode == 0, "reload back")
    await b.event("iceservers")  # the original secret: the old tokens work again
    await b.expect("iceservers")


SECURITY = [
    ("security/tokens", security_tokens),
    ("security/wrong-pins", security_pins),
    ("security/capacity", security_capacity),
    ("security/secret-rotation-by-reload", security_rotation),
]


def check_refused_config(args, tmp, body, want):
    path = os.path.join(tmp, "bad.conf")
    with open(path, "w") as f:
        f.write(body)
    out = subprocess.run([args.master, "--config", path, "--listen", f"127.0.0.1:{free_port()}",
                          "--control-socket", ""], capture_output=True, text=True, timeout=10)
    require(out.returncode == 2, f"{want}: exit {out.returncode}")
    require(want in out.stderr, f"expected '{want}' in {out.stderr!r}")
    return out.stderr


def security_config(args):
    tmp = tempfile.mkdtemp(prefix="wv-ws-conf-")
    try:
        err = check_refused_config(args, tmp, "[workspaces]\nsecret = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
                                   "[workspaces] secret is too weak")
        require("aaaa" not in err, "the secret was printed")
        check_refused_config(args, tmp, "[workspaces]\nsecret =\n", "[workspaces] secret is too weak")
        check_refused_config(args, tmp, "[workspaces]\nsecret = short-Secret-1\n", "too weak")
        check_refused_config(args, tmp, f"[workspaces]\nsecret = {SECRET}\n[turn]\nuris = turn:h:3478\n",
                             "must be set together")
        check_refused_config(args, tmp, "[ice]\nstun-uris = http://x\n", "not a stun: or stuns: URI")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# persistence
# ---------------------------------------------------------------------------


async def persistence(args, tmp):
    store = os.path.join(tmp, "workspaces.json")
    conf = write_config(tmp, f"storage-file = {store}\n")
    srv = start_server(args, conf)
    try:
        o = await create(srv, "keeper", pin="907312", ws_name="Kept")
        b = await attend(srv, o, "bob", pin="907312")
        await asyncio.sleep(0.5)  # written within 0.2 s
        text = open(store).read()
        saved = json.loads(text)
        require(len(saved["workspaces"]) == 1, f"stored {saved}")
        require("907312" not in text and o.token.split(".")[2] not in text
                and SECRET not in text and "access" not in text, "PIN, token or secret stored")
        require(saved["workspaces"][0]["pin_hash"].startswith("pbkdf2:sha256:20000$"), f"{saved}")
        require(oct(os.stat(store).st_mode & 0o777) == "0o600", "storage file mode")
    finally:
        stop_clean(srv)
    srv = start_server(args, conf)
    try:
        cnt = srv.counts()
        require(cnt["workspaces"] == 1 and cnt["workspace_attendees"] == 2, f"after restart {cnt}")
        o2 = await WsClient.open_ws(srv, "keeper-again")
        o2.token = o.token
        await o2.event("re-attend")
        m = await o2.expect("re-attend")
        require(m["data"]["workspace_name"] == "Kept" and m["data"]["owner"], f"{m}")
        require(claims_of(m["data"]["access"])["role"] == "share", f"owner's fresh access token {m}")
        o2.token, o2.access = m["token"], o.access
        b2 = await WsClient.open_ws(srv, "bob-again")
        b2.token = b.token
        await b2.event("re-attend")
        await b2.expect("re-attend")
        await o2.expect("re-attend")
        c = await WsClient.open_ws(srv, "carl")
        await c.event("attend", {"name": "carl", "pin": "000000"}, token=o.access)
        await c.alert("wrong PIN")
        await c.event("attend", {"name": "carl", "pin": "907312"}, token=o.access)
        await c.expect("attend")
        for x in (o2, b2):
            await x.expect("attend")
        await o2.event("destroy")
        await o2.expect("destroy")
        await asyncio.sleep(0.5)
        require(json.load(open(store))["workspaces"] == [], "destroy not stored")
    finally:
        stop_clean(srv)
    print("ok persistence/restart", flush=True)
    # a workspace nobody is in, whose tokens have all expired, is deleted at start-up
    old = int(time.time()) - 2 * 86400
    with open(store, "w") as f:
        json.dump({"version": 1, "workspaces": [
            {"id": "Expired123", "name": "old", "created": old, "active": old, "attendees": []},
            {"id": "Recent1234", "name": "new", "created": old, "active": int(time.time()),
             "attendees": [{"id": "0123456789abcdef", "name": "x", "owner": True}]}]}, f)
    srv = start_server(args, conf)
    try:
        cnt = srv.counts()
        require(cnt["workspaces"] == 1, f"expired workspace kept: {cnt}")
        require([w["id"] for w in json.load(open(store))["workspaces"]] == ["Recent1234"],
                "the file still holds the expired workspace")
    finally:
        stop_clean(srv)
    print("ok persistence/expired-workspaces-deleted", flush=True)
    # corrupt files: a clear start-up error, the file left alone
    for body, want in [('{"version":1,"workspaces":[{"id":', "corrupt or unreadable"),
                       ('{"version":1,"workspaces":[{"id":"a","name":"n","created":1,'
                        '"attendees":[],"pin_hash":"123456"}]}', "'pin_hash' is not a PBKDF2 hash"),
                       ('{"version":2,"workspaces":[]}', "unknown version")]:
        with open(store, "w") as f:
            f.write(body)
        port = free_port()
        out = subprocess.run([args.master, "--config", conf, "--listen", f"127.0.0.1:{port}",
                              "--storage-dir", os.path.join(tmp, "rec"), "--worker-path", args.worker,
                              "--min-spare", "0", "--max-spare", "0", "--control-socket",
                              os.path.join(tmp, "c2.sock")],
                             capture_output=True, text=True, timeout=15)
        require(out.returncode != 0, f"started with a corrupt file ({want})")
        require(want in out.stderr and store in out.stderr, f"error for {want}: {out.stderr[-500:]!r}")
        require(open(store).read() == body, "the corrupt file was changed")
    # a storage file in a directory that does not exist: refused at start-up
    conf2 = write_config(tmp, f"storage-file = {tmp}/missing/dir/ws.json\n")
    out = subprocess.run([args.master, "--config", conf2, "--listen", f"127.0.0.1:{free_port()}",
                          "--storage-dir", os.path.join(tmp, "rec"), "--worker-path", args.worker,
                          "--min-spare", "0", "--max-spare", "0", "--control-socket",
                          os.path.join(tmp, "c3.sock")], capture_output=True, text=True, timeout=15)
    require(out.returncode != 0 and "cannot write" in out.stderr, f"unwritable: {out.stderr[-300:]!r}")
    print("ok persistence/corrupt-file-refused", flush=True)


# ---------------------------------------------------------------------------
# TURN: a real coturn
# ---------------------------------------------------------------------------


def uclient(port, user, password):
    out = subprocess.run(["turnutils_uclient", "-p", str(port), "-u", user, "-w", password,
                          "-y", "-c", "-n", "2", "-z", "5", "127.0.0.1"],
                         capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout + out.stderr


async def turn(args, tmp):
    tport = free_port()
    turn_log = os.path.join(tmp, "turnserver.log")
    coturn = subprocess.Popen(
        ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
         f"--listening-port={tport}", "--min-port=49160", "--max-port=49400",
         "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--realm=wv.test",
         "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers", "--simple-log",
         f"--log-file={turn_log}", f"--pidfile={os.path.join(tmp, 'turn.pid')}",
         f"--userdb={os.path.join(tmp, 'turndb')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conf = write_config(tmp, f"[ice]\nstun-uris = stun:127.0.0.1:{tport}\n"
                             f"[turn]\nuris = turn:127.0.0.1:{tport}?transport=udp;"
                             f"turn:127.0.0.1:{tport}?transport=tcp\n"
                             f"secret = {TURN_SECRET}\nttl = 600\n")
    srv = start_server(args, conf)
    try:
        deadline = time.time() + 5
        while time.time() < deadline:  # coturn listening?
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                if s.connect_ex(("127.0.0.1", tport)) == 0:
                    break
            await asyncio.sleep(0.1)
        o = await create(srv, "turner")
        await o.event("iceservers")
        m = await o.expect("iceservers")
        servers = m["data"]["iceServers"]
        require(servers[0] == {"urls": [f"stun:127.0.0.1:{tport}"]}, f"{servers}")
        t = servers[1]
        require(t["urls"] == [f"turn:127.0.0.1:{tport}?transport=udp",
                              f"turn:127.0.0.1:{tport}?transport=tcp"], f"{t}")
        expiry, who = t["username"].split(":")
        require(who == o.info["attendee"] and abs(int(expiry) - time.time() - 600) < 5,
                f"username {t['username']}")
        rc, out = uclient(tport, t["username"], t["credential"])
        require(rc == 0 and "tot_recv_msgs=" in out, f"allocation with iceservers' credentials: rc {rc}\n{out[-800:]}")
        print("ok turn/allocate-with-iceservers-credentials", flush=True)
        bad = base64.b64encode(bytes([base64.b64decode(t["credential"])[0] ^ 1])
                               + base64.b64decode(t["credential"])[1:]).decode()
        rc, out = uclient(tport, t["username"], bad)
        require(rc != 0 and "Cannot complete Allocation" in out, f"tampered password: rc {rc}\n{out[-500:]}")
        rc, out = uclient(tport, f"{int(expiry) + 3600}:{who}", t["credential"])
        require(rc != 0, f"tampered username (later expiry) allocated: {out[-300:]}")
        past = f"{int(time.time()) - 60}:{who}"
        past_pw = base64.b64encode(hmac.new(TURN_SECRET.encode(), past.encode(), hashlib.sha1).digest()).decode()
        rc, out = uclient(tport, past, past_pw)
        require(rc != 0, f"an expired credential allocated: {out[-300:]}")
        print("ok turn/tampered-and-expired-refused", flush=True)
        await o.close()
    finally:
        coturn.terminate()
        coturn.wait(5)
        stop_clean(srv)


# ---------------------------------------------------------------------------
# a complete call: two aiortc peers
# ---------------------------------------------------------------------------


def split_candidates(sdp):
    """The SDP without its candidates (sent as icecandidate events instead)."""
    lines = sdp.split("\r\n")
    cands = [l[2:] for l in lines if l.startswith("a=candidate:")]
    rest = [l for l in lines if not l.startswith("a=candidate:") and l != "a=end-of-candidates"]
    return "\r\n".join(rest), cands


async def call(args, tmp):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.sdp import candidate_from_sdp
    import recorder_client as rc
    from harness import CLIENT_IP, SERVER_IP

    rc.restrict_ice_addresses([SERVER_IP, CLIENT_IP])
    srv = start_server(args, write_config(tmp))
    pcs = []
    try:
        o = await create(srv, "caller")
        a = await attend(srv, o, "callee")

        def peer():
            pc = RTCPeerConnection()
            pc.addTrack(rc.SyntheticVideoTrack(320, 240))
            got = {"frames": [], "done": asyncio.get_running_loop().create_future()}

            @pc.on("track")
            def on_track(track):
                async def pull():
                    try:
                        while len(got["frames"]) < 15:
                            f = await track.recv()
                            got["frames"].append(f.to_ndarray(format="gray")[:16].tobytes())
                        got["done"].set_result(True)
                    except Exception as e:  # noqa: BLE001
                        if not got["done"].done():
                            got["done"].set_exception(e)
                asyncio.ensure_future(pull())
            pcs.append(pc)
            return pc, got

        async def send_candidates(who, to, cands):
            for c in cands:
                await who.event("icecandidate", {"to": to, "candidate":
                                                 {"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0}})
            await who.event("icecandidate", {"to": to, "candidate": {"candidate": "", "sdpMid": "0"}})

        async def take_candidates(who, pc):
            n = 0
            while True:
                m = await who.expect("icecandidate", 10)
                c = m["data"]["candidate"]
                if not c["candidate"]:
                    return n
                cand = candidate_from_sdp(c["candidate"].split(":", 1)[1])
                cand.sdpMid, cand.sdpMLineIndex = c["sdpMid"], c["sdpMLineIndex"]
                await pc.addIceCandidate(cand)
                n += 1

        po, go = peer()
        pa, ga = peer()
        await po.setLocalDescription(await po.createOffer())
        sdp, cands = split_candidates(po.localDescription.sdp)
        require(cands, "the caller gathered no candidate")
        await o.event("ring", {"to": a.info["attendee"], "offer": {"type": "offer", "sdp": sdp}})
        await send_candidates(o, a.info["attendee"], cands)
        m = await a.expect("ring", 10)
        await pa.setRemoteDescription(RTCSessionDescription(**m["data"]["offer"]))
        n = await take_candidates(a, pa)
        require(n == len(cands), f"callee got {n} of {len(cands)} candidates")
        await pa.setLocalDescription(await pa.createAnswer())
        sdp, cands = split_candidates(pa.localDescription.sdp)
        await a.event("answer", {"answer": {"type": "answer", "sdp": sdp}})
        await send_candidates(a, o.info["attendee"], cands)
        m = await o.expect("answer", 10)
        require(m["data"]["from"] == a.info["attendee"], f"{m}")
        answer = RTCSessionDescription(**m["data"]["answer"])
        n = await take_candidates(o, po)
        await po.setRemoteDescription(answer)
        for who, got in (("caller", go), ("callee", ga)):
            try:
                await asyncio.wait_for(got["done"], 20)
            except asyncio.TimeoutError:
                raise CaseFailed(f"{who} decoded {len(got['frames'])} frames of the other's video")
            require(len(set(got["frames"])) > 1, f"{who}: the frames do not change")
        print(f"ok call/aiortc-peers-see-each-other ({len(go['frames'])} and {len(ga['frames'])} frames)",
              flush=True)
        await o.event("hangup")
        await a.expect("hangup")
    finally:
        for pc in pcs:
            await pc.close()
        stop_clean(srv)


# ---------------------------------------------------------------------------


async def run_cases(args, cases):
    tmp = tempfile.mkdtemp(prefix="wv-ws-")
    srv = start_server(args, write_config(tmp))
    failed, st = 0, {}
    try:
        for case, fn in cases:
            try:
                await asyncio.wait_for(fn(srv, st), 40)
                print(f"ok {case}", flush=True)
            except Exception as e:  # noqa: BLE001 - any failure is reported, the server stopped
                failed += 1
                print(f"FAIL {case}: {type(e).__name__}: {e}", flush=True)
                break  # later cases build on earlier ones
        require(srv.proc.poll() is None, "the server died")
    finally:
        failed = srv.finish(failed, "clean-exit")
        shutil.rmtree(tmp, ignore_errors=True)
    return failed


async def run_standalone(args, name, fn):
    tmp = tempfile.mkdtemp(prefix=f"wv-ws-{name}-")
    try:
        await asyncio.wait_for(fn(args, tmp), 90)
    except (CaseFailed, asyncio.TimeoutError, websockets.WebSocketException, OSError,
            KeyError, subprocess.TimeoutExpired) as e:
        print(f"FAIL {name}: {type(e).__name__}: {e}  (files kept in {tmp})", flush=True)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


async def run_group(args, name):
    if name == "events":
        return await run_cases(args, EVENTS)
    if name == "security":
        try:
            security_config(args)
            print("ok security/weak-or-inconsistent-config-refused", flush=True)
        except (CaseFailed, subprocess.TimeoutExpired) as e:
            print(f"FAIL security/config: {e}", flush=True)
            return 1
        return await run_cases(args, SECURITY)
    return await run_standalone(args, name, {"persistence": persistence, "turn": turn,
                                             "call": call}[name])


def main():
    root = os.path.dirname(os.path.dirname(HERE))
    p = argparse.ArgumentParser()
    p.add_argument("--master", default=os.path.join(root, "build/master/webrtc-video"))
    p.add_argument("--worker", default=os.path.join(root, "build/worker/webrtc-video-worker"))
    p.add_argument("--case", choices=["events", "security", "persistence", "turn", "call"],
                   action="append")
    args = p.parse_args()
    failed = 0
    try:
        for name in args.case or ["events", "security", "persistence", "turn"]:
            failed += asyncio.run(run_group(args, name))
    except RuntimeError as e:
        print(f"setup error: {e}")
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
