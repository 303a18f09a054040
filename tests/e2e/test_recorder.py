#!/usr/bin/python3
"""tests/e2e/test_recorder.py - end-to-end test of the recorder service.

This script owns the black-box test of webrtc-video as a browser sees it: it
starts the master (which forks its workers) in a private network namespace,
drives it with aiortc clients speaking the recorder protocol of
proto/client.h over ws://10.77.0.1:PORT/api/recorder, and judges the files
with ffprobe. Every check is a named case printed as `ok NAME` or
`FAIL NAME: reason`; the exit status is 1 if any failed, 2 on a setup error,
77 (skipped) when not run as root.

    tests/lib/netns.sh /usr/bin/python3 tests/e2e/test_recorder.py \\
        --master build/master/webrtc-video --worker build/worker/webrtc-video-worker

Run outside a namespace as root, it re-executes itself through
tests/lib/netns.sh. Network rules (design.md): the server listens and
gathers on 10.77.0.1 (tv0), the clients gather on 10.77.0.2 (tv1); no
packet is sent anywhere else. Options: --case NAME runs only that case
group, --keep keeps the temporary directory (storage dir, downloaded files,
master log), which is also kept whenever a case fails.

Cases: ping, api-ping, sessions-idle, concurrent/*, audio-only, video-only,
close-without-stop, media-stops, bad-input/*, candidate-before-start, crash/*, hang/*,
crash-loop/*, cli/*, sigterm, loopback/*. Meson runs each group as its own test.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)

import recorder_client as rc  # noqa: E402
from recorder_client import RecorderClient, RecorderError  # noqa: E402
from harness import (CLIENT_IP, SERVER_IP, CaseFailed, free_port,  # noqa: E402
                     enter_test_namespace, require, run_in_workdir)

RECORD_SECONDS = 4.0
SHORT_SECONDS = 3.0
CASE_TIMEOUT = 60.0


def proc_stat(pid: int) -> Optional[tuple]:
    """(state, ppid) of `pid`, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def children_of(pid: int) -> Dict[int, str]:
    """Every child of `pid`, with its state letter (Z = zombie)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[1] == pid:
                out[int(entry)] = st[0]
    return out


def udp_socket_inodes(ports: Set[int]) -> Set[int]:
    """Inodes of the UDP sockets bound to any of `ports` in this namespace."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    bits = line.split()
                    if int(bits[1].rsplit(":", 1)[1], 16) in ports:
                        inodes.add(int(bits[9]))
        except OSError:
            pass
    return inodes


def pids_owning_sockets(pids, inodes: Set[int]) -> Set[int]:
    owners = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                    owners.add(pid)
                    break
        except OSError:
            continue
    return owners


# --------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------


class Server:
    """The master process, its storage dir and its log."""

    def __init__(self, master: str, worker: Optional[str], workdir: str, extra: List[str]):
        self.master = master
        self.worker = worker
        self.extra = extra
        self.storage_dir = os.path.join(workdir, "storage")
        self.log_path = os.path.join(workdir, "master.log")
        self.control_socket = os.path.join(workdir, "control.sock")
        self.port = free_port(SERVER_IP)
        self.proc: Optional[subprocess.Popen] = None
        self.seen_children: Set[int] = set()

    @property
    def http_url(self) -> str:
        return f"http://{SERVER_IP}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{SERVER_IP}:{self.port}/api/recorder"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> None:
        cmd = [self.master, "--listen", f"{SERVER_IP}:{self.port}",
               "--storage-dir", self.storage_dir, "--ice-address", SERVER_IP,
               "--workers", "4",
               "--control-socket", self.control_socket]
        if self.worker:
            cmd += ["--worker-path", self.worker]
        cmd += self.extra
        self.log = open(self.log_path, "ab")
        self.log.write(("$ " + " ".join(cmd) + "\n").encode())
        self.log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"master exited with status {self.proc.returncode} "
                                   f"at startup; log:\n{self.log_tail(30)}")
            try:
                status, body = rc.http_get(self.http_url + "/ping", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"master did not answer /ping within {timeout:g} s; "
                           f"log:\n{self.log_tail(30)}")

    def children(self) -> Dict[int, str]:
        kids = children_of(self.pid)
        self.seen_children.update(kids)
        return kids

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = 40) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-limit:])

    def log_tail(self, n: int = 40) -> str:
        return self.log_since(0, n)

    async def get(self, path: str) -> (int, str):
        status, body = await rc.async_http_get(self.http_url + path)
        return status, body.decode(errors="replace")

    async def sessions(self) -> int:
        """Active sessions by /sessions, cross-checked with /api/sessions."""
        s1, b1 = await self.get("/sessions")
        s2, b2 = await self.get("/api/sessions")
        require(s1 == 200 and s2 == 200, f"/sessions: HTTP {s1}, /api/sessions: HTTP {s2}")
        try:
            n1, n2 = int(b1.strip()), int(b2.strip())
        except ValueError:
            raise CaseFailed(f"/sessions answered {b1!r}, /api/sessions {b2!r}: not numbers")
        require(n1 == n2, f"/sessions says {n1}, /api/sessions says {n2}")
        return n1

    async def wait_sessions(self, want: int, timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            n = await self.sessions()
            if n == want or time.monotonic() > deadline:
                return n
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        """Kill the master if it still runs, and any worker it left behind."""
        if self.proc and self.proc.poll() is None:
            self.children()
            self.proc.kill()
            self.proc.wait()
        for pid in sorted(self.seen_children):
            st = proc_stat(pid)
            if st and st[0] != "Z":
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


class Results:
    def __init__(self, server: Server):
        self.server = server
        self.failed: List[str] = []
        self.passed: List[str] = []

    def ok(self, name: str, detail: str = "") -> None:
        self.passed.append(name)
        print(f"ok {name}" + (f"  # {detail}" if detail else ""), flush=True)

    def fail(self, name: str, reason: str, log_from: Optional[int] = None) -> None:
        self.failed.append(name)
        reason = " ".join(str(reason).split())
        print(f"FAIL {name}: {reason}", flush=True)
        if log_from is not None:
            excerpt = self.server.log_since(log_from, 25)
            if excerpt:
                print("    master log since the case started (last 25 lines):", flush=True)
                for line in excerpt.splitlines():
                    print("    | " + line[:300], flush=True)

    @contextlib.contextmanager
    def check(self, name: str, detail: Optional[list] = None):
        """`with results.check(NAME, detail_list):` - ok unless the block raises.
        Text appended to detail_list is printed after `ok NAME`."""
        offset = self.server.log_size()
        try:
            yield
        except (CaseFailed, RecorderError, OSError, asyncio.TimeoutError) as e:
            self.fail(name, f"{type(e).__name__}: {e}" if not isinstance(e, CaseFailed) else e,
                      offset)
        except Exception as e:  # a bug here or a broken answer: still one case
            self.fail(name, f"unexpected {type(e).__name__}: {e}", offset)
        else:
            self.ok(name, "; ".join(detail or []))


# --------------------------------------------------------------------------
# Helpers shared by the cases
# --------------------------------------------------------------------------


def require_good_recording(path: str, seconds: float, **expect) -> str:
    result = rc.check_recording(path, seconds=seconds, **expect)
    require(result.ok, "; ".join(result.problems) + f" [{result.summary}]")
    return result.summary


async def finish(client: RecorderClient, workdir: str, **expect) -> str:
    """Stop `client`, download its recording and check it; returns a summary."""
    rec = await client.stop()
    path = os.path.join(workdir, f"{client.name}-{rec.key.replace('/', '_')}")
    await client.download(rec, path)
    return require_good_recording(path, rec.seconds_sent, video=client.video,
                                  audio=client.audio, frames_sent=rec.video_frames_sent,
                                  video_codec=client.video_codec if client.video else None,
                                  **expect)


def readable_error(msg: dict, must_mention: Optional[str] = None) -> str:
    text = msg.get("message")
    require(isinstance(text, str), f"error without a string message: {json.dumps(msg)[:200]}")
    require(3 <= len(text) <= 1024 and text.isprintable(),
            f"error message not readable: {text!r:.200}")
    if must_mention:
        require(must_mention.lower() in text.lower(),
                f"error message {text!r} does not name {must_mention!r}")
    return text


async def expect_error(client: RecorderClient, message, must_mention=None,
                       timeout: float = 5.0) -> str:
    await client.send(message)
    try:
        msg = await client.expect_error(timeout)
    except rc.ConnectionClosedError:
        raise CaseFailed(f"server closed the connection (code {client.close_code}) "
                         "instead of answering with an error")
    return readable_error(msg, must_mention)


def recordings_in(storage_dir: str) -> Dict[str, int]:
    """Finished recordings: regular files under the storage dir, skipping
    hidden entries (the spool is STORAGE/.spool); path -> size."""
    found = {}
    for root, dirs, files in os.walk(storage_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                path = os.path.join(root, name)
                found[path] = os.path.getsize(path)
    return found


def spool_listing(storage_dir: str) -> List[str]:
    out = []
    for root, _, files in os.walk(storage_dir):
        for name in files:
            path = os.path.join(root, name)
            out.append(f"{os.path.relpath(path, storage_dir)} ({os.path.getsize(path)} B)")
    return out


async def start_connected(*clients: RecorderClient) -> None:
    for c in clients:
        await c.connect()
    await asyncio.gather(*(c.start() for c in clients))
    await asyncio.gather(*(c.wait_connected() for c in clients))


async def hold_until(client: RecorderClient, seconds: float) -> None:
    """Sleep until `client` has been connected for `seconds`."""
    remaining = client.connected_at + seconds - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)


async def close_quietly(*clients: RecorderClient) -> None:
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------


async def case_ping(server: Server, results: Results, workdir: str) -> None:
    for name, path in (("ping", "/ping"), ("api-ping", "/api/ping")):
        with results.check(name):
            status, body = await server.get(path)
            require(status == 200 and body.strip() == "pong",
                    f"GET {path}: HTTP {status} {body[:100]!r}, expected 200 'pong'")
    with results.check("sessions-idle"):
        n = await server.sessions()
        require(n == 0, f"/sessions reads {n} before any session, expected 0")
    with results.check("http-errors", detail := []):
        # Unknown paths, keys that try to leave the storage dir, and methods
        # other than GET are refused, never served.
        for path in ("/nope", "/recordings/", "/recordings/.spool", "/recordings/..%2Fx"):
            status, _ = await server.get(path)
            require(status == 404, f"GET {path}: HTTP {status}, expected 404")
        req = urllib.request.Request(server.http_url + "/ping", data=b"x", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        require(status == 405, f"POST /ping: HTTP {status}, expected 405")
        detail.append("404 for unknown paths and keys, 405 for POST")


async def case_concurrent(server: Server, results: Results, workdir: str) -> None:
    vp8 = RecorderClient(server.ws_url, video_codec="VP8", name="concurrent-vp8")
    h264 = RecorderClient(server.ws_url, video_codec="H264", name="concurrent-h264")
    try:
        with results.check("concurrent/start"):
            await start_connected(vp8, h264)
        if not (vp8.connected_at and h264.connected_at):
            results.fail("concurrent/sessions-during", "sessions did not start")
            return
        await asyncio.sleep(1.0)
        with results.check("concurrent/sessions-during"):
            n = await server.sessions()
            require(n == 2, f"/sessions reads {n} while two sessions record, expected 2")
        await hold_until(vp8, RECORD_SECONDS)
        await hold_until(h264, RECORD_SECONDS)
        outcomes = await asyncio.gather(finish(vp8, workdir), finish(h264, workdir),
                                        return_exceptions=True)
        for name, outcome in zip(("vp8-opus", "h264-opus"), outcomes):
            with results.check(f"concurrent/{name}", detail := []):
                if isinstance(outcome, BaseException):
                    raise outcome
                detail.append(outcome)
        with results.check("concurrent/sessions-after"):
            n = await server.wait_sessions(0)
            require(n == 0, f"/sessions reads {n} after both stopped (waited 5 s), expected 0")
    finally:
        await close_quietly(vp8, h264)


async def case_single_medium(server: Server, results: Results, workdir: str) -> None:
    audio_only = RecorderClient(server.ws_url, video=False, name="audio-only")
    video_only = RecorderClient(server.ws_url, audio=False, name="video-only")

    async def run(client: RecorderClient) -> str:
        await start_connected(client)
        await hold_until(client, SHORT_SECONDS)
        return await finish(client, workdir)

    try:
        outcomes = await asyncio.gather(run(audio_only), run(video_only), return_exceptions=True)
        for client, outcome in zip((audio_only, video_only), outcomes):
            with results.check(client.name, detail := []):
                if isinstance(outcome, BaseException):
                    raise outcome
                detail.append(outcome)
    finally:
        await close_quietly(audio_only, video_only)


async def case_close_without_stop(server: Server, results: Results, workdir: str) -> None:
    before = recordings_in(server.storage_dir)
    client = RecorderClient(server.ws_url, name="close-without-stop")
    with results.check("close-without-stop", detail := []):
        await start_connected(client)
        await hold_until(client, SHORT_SECONDS)
        seconds = time.monotonic() - client.connected_at
        await client.ws.close()  # no stop: the tab just went away
        await client.pc.close()
        # The new file must appear in the storage dir and stop growing.
        deadline = time.monotonic() + 15
        new: Dict[str, int] = {}
        while time.monotonic() < deadline:
            new = {p: s for p, s in recordings_in(server.storage_dir).items() if p not in before}
            if new:
                await asyncio.sleep(1.0)
                again = {p: s for p, s in recordings_in(server.storage_dir).items()
                         if p not in before}
                if again == new and all(s > 0 for s in new.values()):
                    break
            await asyncio.sleep(0.5)
        require(len(new) == 1,
                f"expected one new recording in the storage dir within 15 s, found "
                f"{sorted(new)}; storage holds {spool_listing(server.storage_dir)}")
        path = next(iter(new))
        detail.append(os.path.relpath(path, server.storage_dir))
        detail.append(require_good_recording(path, seconds, video_codec="VP8",
                                             tolerance=1.5, strict=False))
        n = await server.wait_sessions(0)
        require(n == 0, f"/sessions reads {n} after the client went away, expected 0")
    await close_quietly(client)


async def case_media_stops(server: Server, results: Results, workdir: str) -> None:
    """The peer connection dies (network gone, tab frozen) while the websocket
    stays up and no stop comes: the worker notices that media stopped,
    finishes the file and the client still gets uploadSuccess."""
    client = RecorderClient(server.ws_url, name="media-stops")
    try:
        with results.check("media-stops", detail := []):
            await start_connected(client)
            await hold_until(client, SHORT_SECONDS)
            seconds = time.monotonic() - client.connected_at
            await client.pc.close()  # media and ICE stop; the websocket stays open
            t0 = time.monotonic()
            msg = await client.expect("uploadSuccess", timeout=20.0)
            detail.append(f"uploadSuccess {time.monotonic() - t0:.1f} s after media stopped")
            path = os.path.join(workdir, "media-stops-" + msg["key"])
            status, body = await rc.async_http_get(msg["videoUrl"])
            require(status == 200, f"GET {msg['videoUrl']}: HTTP {status}")
            with open(path, "wb") as f:
                f.write(body)
            detail.append(require_good_recording(path, seconds, video_codec="VP8",
                                                 tolerance=1.5, strict=False))
    finally:
        await close_quietly(client)


async def case_bad_input(server: Server, results: Results, workdir: str) -> None:
    good = RecorderClient(server.ws_url, name="bad-input-bystander")
    bad = RecorderClient(server.ws_url, name="bad-input")
    try:
        with results.check("bad-input/bystander-start"):
            await start_connected(good)
        await bad.connect()
        valid_offer = await bad.make_offer()
        cases = [
            ("malformed-json", '{"id": "start", "sdpOffer": ', None),
            ("json-array", '[{"id": "stop"}]', None),
            ("json-string", '"start"', None),
            ("missing-id", {"sdpOffer": valid_offer}, "id"),
            ("unknown-id", {"id": "frobnicate"}, "frobnicate"),
            ("stop-before-start", {"id": "stop"}, None),
            ("candidate-not-object",
             {"id": "onIceCandidate", "candidate": "candidate:1 1 udp 1 10.77.0.2 9 typ host"},
             "candidate"),
            ("start-without-sdpOffer", {"id": "start"}, "sdpOffer"),
            ("start-sdpOffer-not-string", {"id": "start", "sdpOffer": 42}, "sdpOffer"),
            ("garbage-sdp", {"id": "start", "sdpOffer": "hello"}, None),
        ]
        for name, message, mention in cases:
            with results.check(f"bad-input/{name}", detail := []):
                text = await expect_error(bad, message, mention,
                                          timeout=10.0 if name == "garbage-sdp" else 5.0)
                detail.append(repr(text)[:120])
        # The same connection must still work: a valid start records.
        with results.check("bad-input/valid-start-after-errors"):
            await bad.start()
            await bad.wait_connected()
        if bad.connected_at:
            with results.check("bad-input/second-start-while-recording", detail := []):
                text = await expect_error(bad, {"id": "start", "sdpOffer": valid_offer})
                detail.append(repr(text)[:120])
            with results.check("bad-input/recording-after-errors", detail := []):
                await hold_until(bad, SHORT_SECONDS)
                detail.append(await finish(bad, workdir))
        # Oversized message on a connection of its own: error or close, and
        # the server keeps serving everyone else.
        big = RecorderClient(server.ws_url, name="bad-input-oversize")
        with results.check("bad-input/oversize-message", detail := []):
            await big.connect()
            payload = json.dumps({"id": "start", "sdpOffer": "v=0\r\n" + "a" * (300 * 1024)})
            await big.send(payload)
            try:
                msg = await big.next_message(timeout=10)
                require(isinstance(msg, dict) and msg.get("id") == "error",
                        f"answered {str(msg)[:200]}, expected an error or a close")
                detail.append("error " + repr(readable_error(msg))[:100])
            except rc.ConnectionClosedError:
                detail.append(f"closed (code {big.close_code})")
            status, body = await server.get("/ping")
            require(status == 200 and body.strip() == "pong",
                    f"/ping after the oversized message: HTTP {status} {body[:80]!r}")
        await close_quietly(big)
        with results.check("bad-input/bystander-recording", detail := []):
            require(good.connected_at is not None, "bystander never connected")
            require(not good.received or all(m.get("id") != "error" for m in good.received
                                             if isinstance(m, dict)),
                    f"bystander received an error: {good.received}")
            await hold_until(good, SHORT_SECONDS)
            detail.append(await finish(good, workdir))
        with results.check("bad-input/sessions-after"):
            n = await server.wait_sessions(0)
            require(n == 0, f"/sessions reads {n} after the bad-input case, expected 0")
    finally:
        await close_quietly(good, bad)


async def case_candidate_before_start(server: Server, results: Results, workdir: str) -> None:
    client = RecorderClient(server.ws_url, name="candidate-before-start", send_candidates=False)
    with results.check("candidate-before-start", detail := []):
        await client.connect()
        await client.make_offer()
        sent = await client.send_local_candidates()
        require(sent > 0, "aiortc produced no candidate")
        # Queued, not refused: nothing may come back for them.
        try:
            msg = await client.next_message(timeout=1.0)
            raise CaseFailed(f"server answered onIceCandidate before start with {str(msg)[:300]}")
        except rc.ConnectionClosedError:
            raise CaseFailed(f"server closed the connection (code {client.close_code})")
        except RecorderError:
            pass  # silence, as it should be
        # The offer carries no candidates: the server knows ours only from
        # the queued messages (or from peer-reflexive learning).
        client.offer_sdp = strip_candidates(client.offer_sdp)
        await client.start()
        await client.wait_connected()
        await hold_until(client, SHORT_SECONDS)
        detail.append(f"{sent} candidates queued")
        detail.append(await finish(client, workdir))
    await close_quietly(client)


def strip_candidates(sdp: str) -> str:
    return "".join(line for line in sdp.splitlines(True)
                   if not line.startswith(("a=candidate:", "a=end-of-candidates")))


async def worker_serving(server: Server, client: RecorderClient) -> int:
    """The worker pid that owns the UDP ports of `client`'s server candidates."""
    ports = set(client.server_ports())
    require(ports, f"{client.name}: the server sent no UDP candidate")
    owners = pids_owning_sockets(server.children(), udp_socket_inodes(ports))
    require(len(owners) == 1, f"{client.name}: expected one worker owning UDP ports "
                              f"{sorted(ports)}, found {sorted(owners)} among children "
                              f"{server.children()}")
    return owners.pop()


async def spool_file_written(server: Server, suffix: str, timeout: float) -> None:
    """Wait until a part file ending in `suffix` in the server's spool has
    bytes on disk (or the timeout passes: the checks that follow then say
    what is missing)."""
    spool = os.path.join(server.storage_dir, ".spool")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(e.name.endswith(suffix) and e.stat().st_size > 0 for e in os.scandir(spool)):
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)


async def case_crash(server: Server, results: Results, workdir: str) -> None:
    a = RecorderClient(server.ws_url, name="crash-A")
    b = RecorderClient(server.ws_url, video_codec="H264", name="crash-B")
    try:
        pid_a = None
        error_a = ""
        with results.check("crash/find-worker", detail := []):
            await start_connected(a, b)
            pid_a = await worker_serving(server, a)
            pid_b = await worker_serving(server, b)
            require(pid_a != pid_b, f"A and B share worker {pid_a}")
            detail.append(f"A on {pid_a}, B on {pid_b}")
        if pid_a is None:
            return
        # Kill A once its spool file holds media on disk (filesink writes in
        # 64 KiB blocks; on a loaded machine the first one can take more than
        # a second after startResponse), plus a second of recording.
        await spool_file_written(server, ".webm.part", timeout=10.0)
        await asyncio.sleep(1.0)
        os.kill(pid_a, signal.SIGKILL)
        killed_at = time.monotonic()
        with results.check("crash/a-gets-error", detail := []):
            try:
                msg = await a.next_message(timeout=3.0)
            except rc.ConnectionClosedError:
                raise CaseFailed(f"websocket closed (code {a.close_code}) without an error message")
            except RecorderError:
                raise CaseFailed("no message within 3 s of SIGKILL of its worker")
            require(isinstance(msg, dict) and msg.get("id") == "error",
                    f"got {str(msg)[:200]} instead of an error")
            error_a = readable_error(msg, must_mention="crashed")
            detail.append(f"after {time.monotonic() - killed_at:.2f} s: {error_a[:160]!r}")
        with results.check("crash/a-partial-kept", detail := []):
            # The master moves what the dead worker had written into storage
            # and names its URL in the error.
            urls = re.findall(r"https?://\S+", error_a if pid_a else "")
            require(urls, f"the error names no URL for the partial recording: {error_a!r}")
            status, body = await rc.async_http_get(urls[0])
            require(status == 200 and len(body) > 0, f"GET {urls[0]}: HTTP {status}")
            path = os.path.join(workdir, "crash-partial" + os.path.splitext(urls[0])[1])
            with open(path, "wb") as f:
                f.write(body)
            info = rc.probe_recording(path)
            video = [s for s in info["streams"] if s.get("codec_type") == "video"]
            frames = int(video[0].get("nb_read_frames", 0)) if video else 0
            require(frames > 0, f"partial recording {path} has no decodable video frame")
            detail.append(f"{len(body)} B, {frames} video frames decode")
        with results.check("crash/b-uploads", detail := []):
            await hold_until(b, RECORD_SECONDS)
            detail.append(await finish(b, workdir))
        with results.check("crash/no-zombies", detail := []):
            deadline = time.monotonic() + 3
            while True:
                kids = server.children()
                zombies = [p for p, state in kids.items() if state == "Z"]
                if (not zombies and pid_a not in kids) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            require(not zombies, f"zombie children of the master 3 s after the kill: {zombies}")
            require(pid_a not in kids,
                    f"killed worker {pid_a} is still a child (state {kids.get(pid_a)})")
            detail.append(f"children now {sorted(kids)}")
        with results.check("crash/sessions-after"):
            n = await server.wait_sessions(0)
            require(n == 0, f"/sessions reads {n} after the crash case, expected 0")
        with results.check("crash/new-session", detail := []):
            c = RecorderClient(server.ws_url, name="crash-after")
            try:
                await start_connected(c)
                await hold_until(c, 2.0)
                detail.append(await finish(c, workdir))
            finally:
                await close_quietly(c)
    finally:
        await close_quietly(a, b)


async def case_sigterm(server: Server, results: Results, workdir: str) -> None:
    kids = server.children()
    with results.check("sigterm", detail := []):
        server.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            code = await asyncio.get_running_loop().run_in_executor(
                None, lambda: server.proc.wait(timeout=15))
        except subprocess.TimeoutExpired:
            raise CaseFailed("the master still runs 15 s after SIGTERM")
        detail.append(f"exit status {code} after {time.monotonic() - t0:.2f} s")
        require(code == 0, f"the master exited with status {code} on SIGTERM, expected 0")
        await asyncio.sleep(0.5)
        left = [p for p in kids if (st := proc_stat(p)) and st[0] != "Z"]
        require(not left, f"workers still running after the master exited: {left}")
        detail.append(f"all {len(kids)} workers gone")


async def case_hang(server: Server, results: Results, workdir: str) -> None:
    """A worker that stops responding (SIGSTOP) is killed by the heartbeat
    watchdog; its client hears of it within seconds and nothing leaks."""
    a = RecorderClient(server.ws_url, name="hang-A")
    try:
        pid = None
        with results.check("hang/find-worker", detail := []):
            await start_connected(a)
            pid = await worker_serving(server, a)
            detail.append(f"worker {pid}")
        if pid is None:
            return
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        with results.check("hang/client-gets-error", detail := []):
            try:
                msg = await a.next_message(timeout=4.0)
            except RecorderError:
                raise CaseFailed("no message within 4 s of freezing its worker")
            elapsed = time.monotonic() - stopped_at
            require(isinstance(msg, dict) and msg.get("id") == "error",
                    f"got {str(msg)[:200]} instead of an error")
            text = readable_error(msg, must_mention="responding")
            require(elapsed <= 3.5, f"the error took {elapsed:.2f} s (watchdog is 2 s)")
            detail.append(f"after {elapsed:.2f} s: {text[:100]!r}")
        with results.check("hang/worker-reaped"):
            deadline = time.monotonic() + 3
            while pid in server.children() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            kids = server.children()
            require(pid not in kids, f"frozen worker {pid} is still a child "
                                     f"(state {kids.get(pid)})")
        with results.check("hang/sessions-after"):
            n = await server.wait_sessions(0)
            require(n == 0, f"/sessions reads {n} after the hang case, expected 0")
    finally:
        await close_quietly(a)


async def case_crash_loop(server: Server, results: Results, workdir: str) -> None:
    """Workers that die before they are ready are restarted with backoff, not
    in a tight loop, and clients are told at once instead of waiting."""
    broken = Server(server.master, "/bin/false", os.path.join(workdir, "crash-loop"), [])
    os.makedirs(os.path.join(workdir, "crash-loop"), exist_ok=True)
    try:
        with results.check("crash-loop/backoff", detail := []):
            broken.start()
            await asyncio.sleep(4.0)
            with open(broken.log_path, errors="replace") as f:
                failures = sum(1 for line in f if "died before it was ready" in line)
            # 2 spares at once, then at 0.4, 1.2, 2.8 s...: a handful, not hundreds.
            require(2 <= failures <= 8, f"{failures} failed worker starts in 4 s "
                                        f"(expected a few, backing off)")
            detail.append(f"{failures} failed starts in 4 s")
        with results.check("crash-loop/start-refused", detail := []):
            c = RecorderClient(broken.ws_url, name="crash-loop")
            try:
                await c.connect()
                await c.make_offer()
                t0 = time.monotonic()
                await c.send({"id": "start", "sdpOffer": c.offer_sdp})
                msg = await c.expect_error(timeout=3.0)
                detail.append(f"after {time.monotonic() - t0:.2f} s: "
                              f"{readable_error(msg, must_mention='worker')[:80]!r}")
            finally:
                await close_quietly(c)
        with results.check("crash-loop/still-serving"):
            status, body = await broken.get("/ping")
            require(status == 200 and body == "pong", f"/ping: HTTP {status} {body!r}")
    finally:
        broken.stop()


def run_master(server: Server, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run([server.master, *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


async def case_cli(server: Server, results: Results, workdir: str) -> None:
    """The command line and the config file: help, version, errors, settings."""
    with results.check("cli/help"):
        r = run_master(server, "--help")
        require(r.returncode == 0 and "--ice-address" in r.stdout and "--storage-dir" in r.stdout,
                f"--help: status {r.returncode}, output {r.stdout[:200]!r}")
    with results.check("cli/version"):
        r = run_master(server, "--version")
        require(r.returncode == 0 and r.stdout.startswith("webrtc-video "),
                f"--version: status {r.returncode}, output {r.stdout!r}")
    for name, args, mention in (
            ("cli/unknown-option", ["--bogus"], "bogus"),
            ("cli/bad-listen", ["--listen", "nowhere"], "listen"),
            ("cli/bad-workers", ["--workers", "0"], "workers"),
            ("cli/missing-config", ["--config", os.path.join(workdir, "none.conf")], "none.conf")):
        with results.check(name):
            r = run_master(server, *args)
            require(r.returncode == 2 and mention in r.stderr,
                    f"{args}: status {r.returncode} (expected 2), stderr {r.stderr[-300:]!r}")
    conf = os.path.join(workdir, "typo.conf")
    with open(conf, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:1\nlisen = 127.0.0.1:2\n")
    with results.check("cli/unknown-config-key"):
        r = run_master(server, "--config", conf)
        require(r.returncode == 2 and "lisen" in r.stderr,
                f"status {r.returncode} (expected 2), stderr {r.stderr[-300:]!r}")
    with results.check("cli/config-file", detail := []):
        port = free_port("127.0.0.1")
        storage = os.path.join(workdir, "conf-storage")
        conf = os.path.join(workdir, "good.conf")
        with open(conf, "w") as f:
            f.write(f"# a comment\n[server]\nlisten = 127.0.0.1:{port}\n"
                    f"control-socket = {os.path.join(workdir, 'conf.sock')}\n"
                    f"[storage]\ndir = {storage}\n[workers]\nmin-spare = 1\n"
                    f"path = {server.worker or ''}\n[ice]\naddresses = {SERVER_IP}\n")
        if not server.worker:
            with open(conf) as f:
                text = f.read().replace("path = \n", "")
            with open(conf, "w") as f:
                f.write(text)
        proc = subprocess.Popen([server.master, "--config", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            status = None
            while time.monotonic() < deadline and proc.poll() is None:
                with contextlib.suppress(OSError):
                    status, body = rc.http_get(f"http://127.0.0.1:{port}/ping", timeout=1)
                    if status == 200:
                        break
                await asyncio.sleep(0.2)
            require(status == 200, f"no /ping on the configured port {port}")
            require(os.path.isdir(storage), f"configured storage dir {storage} not created")
            detail.append(f"listening on 127.0.0.1:{port}, storage {storage}")
        finally:
            proc.terminate()
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        require(code == 0, f"exit status {code} after SIGTERM, expected 0")


async def case_loopback(server: Server, results: Results, workdir: str) -> None:
    """loopback:true from aiortc (which the worker answers unbundled): the
    answer is send-receive, aiortc decodes its own video and audio coming
    back while the recording is made as usual."""
    client = RecorderClient(server.ws_url, name="loopback", loopback=True)
    try:
        with results.check("loopback/aiortc", detail := []):
            await start_connected(client)
            directions = re.findall(r"^a=(sendrecv|recvonly|sendonly|inactive)\r?$",
                                    client.answer_sdp, re.M)
            require(directions and set(directions) == {"sendrecv"},
                    f"answer directions {directions}")
            await hold_until(client, SHORT_SECONDS)
            returned = dict(client.returned)
            require(returned.get("video", 0) >= 30 and returned.get("audio", 0) >= 50,
                    f"decoded from the server: {returned} (expected >= 30 video frames, "
                    ">= 50 audio frames in {SHORT_SECONDS:g} s)")
            summary = await finish(client, workdir)
            detail.append(f"returned {returned}; recording: {summary}")
    finally:
        await close_quietly(client)


CASES = [
    ("ping", case_ping),
    ("concurrent", case_concurrent),
    ("single-medium", case_single_medium),
    ("close-without-stop", case_close_without_stop),
    ("media-stops", case_media_stops),
    ("bad-input", case_bad_input),
    ("candidate-before-start", case_candidate_before_start),
    ("crash", case_crash),
    ("hang", case_hang),
    ("crash-loop", case_crash_loop),
    ("cli", case_cli),
    ("sigterm", case_sigterm),
    ("loopback", case_loopback),
]


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


async def run(args, workdir: str) -> int:
    rc.restrict_ice_addresses([CLIENT_IP])
    server = Server(args.master, args.worker, workdir, args.server_arg or [])
    try:
        server.start()
    except (RuntimeError, OSError) as e:
        print(f"FAIL server-start: {e}", flush=True)
        return 2
    results = Results(server)
    print(f"# master pid {server.pid} on {server.http_url}, work dir {workdir}", flush=True)
    try:
        for name, case in CASES:
            if args.case and name not in args.case:
                continue
            if name != "sigterm" and server.proc.poll() is not None:
                results.fail(name, f"master is gone (exit status {server.proc.returncode})")
                continue
            offset = server.log_size()
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(case(server, results, workdir), CASE_TIMEOUT)
            except asyncio.TimeoutError:
                results.fail(name, f"case timed out after {CASE_TIMEOUT:g} s", offset)
            except Exception as e:
                results.fail(name, f"unexpected {type(e).__name__}: {e}", offset)
            print(f"# {name}: {time.monotonic() - t0:.1f} s", flush=True)
    finally:
        server.stop()
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed"
          + (": " + ", ".join(results.failed) if results.failed else ""), flush=True)
    return 1 if results.failed else 0


def main() -> int:
    p = argparse.ArgumentParser(description="End-to-end test of the webrtc-video recorder.")
    p.add_argument("--master", required=True, help="the webrtc-video executable")
    p.add_argument("--worker", help="the webrtc-video-worker executable (--worker-path)")
    p.add_argument("--case", action="append", choices=[name for name, _ in CASES],
                   help="run only this case group (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--server-arg", action="append", help="extra argument for the master")
    args = p.parse_args()

    status = enter_test_namespace(__file__)
    if status:
        return status
    args.master = os.path.abspath(args.master)
    args.worker = os.path.abspath(args.worker) if args.worker else None

    return run_in_workdir("wv-e2e-", lambda workdir: run(args, workdir), args.keep,
                          " (master.log, storage/, downloaded recordings)")


if __name__ == "__main__":
    sys.exit(main())
