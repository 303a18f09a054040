#!/usr/bin/python3
"""tests/e2e/test_s3_store.py - end to end: recordings into S3, nothing lost.

This script owns the black-box test of the S3 storage backend
(worker/storage_s3.c) and the upload spool (master/spool.c): the real
server and workers, aiortc clients in a private network namespace, and as S3
s3rver (npm) behind tests/lib/s3proxy.py, which re-verifies every request's
SigV4 signature with botocore and can play a dead S3.  Objects are read back
with boto3 and judged with ffprobe, and byte-compared (SHA-256) with what the
server spooled or said it stored.

    tests/lib/netns.sh /usr/bin/python3 tests/e2e/test_s3_store.py \\
        --master build/master/webrtc-video --worker build/worker/webrtc-video-worker

Case groups (meson runs each as its own test, `e2e-s3-NAME`):
  put        a short recording as one PUT; uploadSuccess {videoUrl, key};
             the object plays, equals the worker's SHA-256, nothing left in
             the spool; credentials in no log and no worker's argv
  multipart  a recording of >= 3 parts of 5 MiB: parts 2.. go up while it
             records, part 1 (the header) last; the object is seekable
             (duration, Cues) and byte-identical
  outage     s3rver stopped mid-session: the client hears "upload pending",
             `uploads` lists it, the spooled file waits; s3rver back: the
             object arrives, byte-identical to the spooled file
  restart    the same, but the master is SIGKILLed while the upload is
             pending and started again; and a worker killed mid-recording:
             its salvaged part file is uploaded
  drain      SIGTERM with S3 hanging and an upload-timeout beyond the master's
             15 s stop timeout: the client still hears "upload pending"
             (the stop waits for the workers' upload budget), exit 0
  spooled    a 12 MiB recording left in the spool (file + sidecar) goes up
             at the next start as a 3-part upload from the spool
  config     bad settings stop the start-up with a clear message; a wrong
             secret and an unreachable endpoint give a visible pending
             upload (`webrtc-videoctl uploads`), never a silent loss
Every case that talks to a correctly configured server also requires zero
signature mismatches and zero protocol violations at the proxy.
"""

import argparse
import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)
sys.path.insert(0, HERE)

import recorder_client as rc  # noqa: E402
from recorder_client import RecorderClient  # noqa: E402
from harness import CLIENT_IP, CaseFailed, free_port, enter_test_namespace, require  # noqa: E402
from harness import run_in_workdir  # noqa: E402
from test_recorder import Results, Server, close_quietly, start_connected  # noqa: E402
from s3 import ACCESS_KEY, REGION, S3rver, boto3_client  # noqa: E402
from s3proxy import S3Proxy  # noqa: E402

BUCKET = "recordings"
SECRET = "wv-s3-test-secret-5c1d9e"  # what the server signs with; the proxy checks it
KEY_RE = re.compile(r"^[0-9a-f]{32}\.(webm|mkv)$")
STORED_RE = re.compile(r"s3: (\S+) stored as (\S+) \((\d+) bytes, sha256 ([0-9a-f]{64})\)")
CASE_TIMEOUT = 90.0
CTL = None  # webrtc-videoctl, next to the master


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------
# Matroska: is the object seekable?  (a minimal EBML walk of the top level)
# --------------------------------------------------------------------------

def _vint(data: bytes, pos: int, strip: bool) -> (int, int):
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    value = first & ((0xFF >> length) if strip else 0xFF)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, pos + length


def matroska_top_level(data: bytes) -> List[int]:
    """IDs of the Segment's children, in file order."""
    ebml_id, pos = _vint(data, 0, False)
    size, pos = _vint(data, pos, True)
    pos += size                                   # skip the EBML header
    seg_id, pos = _vint(data, pos, False)
    require(seg_id == 0x18538067, f"no Segment after the EBML header (0x{seg_id:x})")
    _, pos = _vint(data, pos, True)
    ids = []
    while pos < len(data):
        eid, p = _vint(data, pos, False)
        size, p = _vint(data, p, True)
        ids.append(eid)
        pos = p + size
    require(pos == len(data), f"the last element overruns the file ({pos} > {len(data)})")
    return ids


def require_seekable(data: bytes, path: str, min_seconds: float) -> str:
    ids = matroska_top_level(data)
    require(0x1C53BB6B in ids, "no Cues element: the file is not seekable")
    require(0x114D9B74 in ids, "no SeekHead")
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "json", path], capture_output=True, text=True)
    duration = float(json.loads(out.stdout or "{}").get("format", {}).get("duration") or 0)
    require(duration >= min_seconds, f"ffprobe duration {duration:.2f} s < {min_seconds:.1f} s")
    # a seek into the middle decodes
    mid = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{duration / 2:.2f}", "-i", path,
                          "-frames:v", "1", "-f", "null", "-"], capture_output=True, text=True)
    require(mid.returncode == 0, f"seeking to the middle fails: {mid.stderr[-300:]}")
    clusters = ids.count(0x1F43B675)
    return f"duration {duration:.1f} s, {clusters} clusters, Cues present"


# --------------------------------------------------------------------------
# The S3 side
# --------------------------------------------------------------------------

class S3Side:
    """s3rver and the verifying proxy the server talks to."""

    def __init__(self, secret: str = SECRET):
        self.store = S3rver(bucket=BUCKET).start()
        self.proxy = S3Proxy(self.store.endpoint, ACCESS_KEY, secret, REGION).start()
        self.client = boto3_client(self.store.endpoint)

    def server_args(self, endpoint: Optional[str] = None, *extra: str) -> List[str]:
        return ["--s3-bucket", BUCKET, "--s3-region", REGION,
                "--s3-endpoint", endpoint or self.proxy.endpoint,
                "--upload-timeout", "4", "--upload-retry-min", "1", "--upload-retry-max", "2",
                *extra]

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def has(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=BUCKET, Key=key)
            return True
        except Exception:
            return False

    def require_clean(self) -> str:
        st = self.proxy.state()
        require(st["mismatches"] == 0, f"{st['mismatches']} request(s) failed SigV4 "
                "re-verification by botocore")
        require(st["violations"] == 0, f"{st['violations']} protocol violation(s): "
                + "; ".join(r["outcome"] for r in st["requests"]
                            if r["outcome"].startswith("violation"))[:300])
        return f"{len(st['requests'])} requests re-verified, 0 signature mismatches"

    def close(self) -> None:
        self.proxy.stop()
        self.store.close()


def set_credentials(secret: str = SECRET) -> None:
    os.environ["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
    os.environ["AWS_SECRET_ACCESS_KEY"] = secret
    os.environ.pop("AWS_SESSION_TOKEN", None)


def ctl(server: Server, *args: str) -> dict:
    out = subprocess.run([CTL, "-s", server.control_socket, "--json", *args],
                         capture_output=True, text=True, timeout=10)
    require(out.returncode == 0, f"webrtc-videoctl {' '.join(args)}: exit {out.returncode}: "
            f"{out.stderr.strip()[:300]}")
    return json.loads(out.stdout)


def ctl_table(server: Server, *args: str) -> str:
    out = subprocess.run([CTL, "-s", server.control_socket, *args], capture_output=True,
                         text=True, timeout=10)
    require(out.returncode == 0, f"webrtc-videoctl {' '.join(args)}: exit {out.returncode}")
    return out.stdout


def spool_dir(server: Server) -> str:
    return os.path.join(server.storage_dir, ".spool")


def spool_files(server: Server) -> List[str]:
    try:
        return sorted(os.listdir(spool_dir(server)))
    except OSError:
        return []


def stored_line(server: Server, name: str) -> Optional[re.Match]:
    with open(server.log_path, "rb") as f:
        text = f.read().decode(errors="replace")
    for m in STORED_RE.finditer(text):
        if m.group(1) == name:
            return m
    return None


async def record(server: Server, seconds: float, name: str = "client") -> RecorderClient:
    client = RecorderClient(server.ws_url, name=name)
    await start_connected(client)
    await asyncio.sleep(seconds)
    return client


async def stop_expect_pending(client: RecorderClient, timeout: float = 20.0) -> str:
    """`stop`; the answer must be an error saying the upload is pending."""
    await client.send({"id": "stop"})
    msg = await client.next_message(timeout)
    require(isinstance(msg, dict) and msg.get("id") == "error",
            f"expected an 'upload pending' error, got {str(msg)[:300]}")
    text = msg.get("message", "")
    require("pending" in text and "not lost" in text,
            f"the error does not say the upload is pending and nothing is lost: {text!r}")
    m = re.search(r"recording (\S+\.(?:webm|mkv))", text)
    require(m is not None, f"the error does not name the recording: {text!r}")
    return m.group(1)


async def wait_for(predicate, timeout: float, what: str, step: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CaseFailed(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(step)


def check_object(s3: S3Side, key: str, workdir: str, want_sha: str, seconds: float) -> str:
    data = s3.get(key)
    got = hashlib.sha256(data).hexdigest()
    require(got == want_sha, f"object {key} ({len(data)} bytes) has SHA-256 {got[:16]}..., "
            f"the spooled file {want_sha[:16]}...")
    path = os.path.join(workdir, "s3-" + key.replace("/", "_"))
    with open(path, "wb") as f:
        f.write(data)
    summary = require_seekable(data, path, seconds)
    return f"{len(data)} bytes byte-identical; {summary}"


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

async def case_put(args, results: Results, workdir: str, s3: S3Side) -> None:
    set_credentials()
    server = Server(args.master, args.worker, workdir, s3.server_args())
    server.start()
    results.server = server
    try:
        detail: List[str] = []
        with results.check("s3-put/upload-success", detail):
            client = await record(server, 3.0)
            t0 = time.monotonic()
            await client.send({"id": "stop"})
            msg = await client.expect("uploadSuccess", 20)
            latency = (time.monotonic() - t0) * 1000
            await close_quietly(client)
            key, url = msg.get("key"), msg.get("videoUrl")
            require(isinstance(key, str) and KEY_RE.match(key), f"key {key!r}")
            require(url == f"{s3.proxy.endpoint}/{BUCKET}/{key}",
                    f"videoUrl {url!r} is not the object's URL")
            line = stored_line(server, key)
            require(line is not None, "the worker did not log the object's SHA-256")
            detail.append(check_object(s3, key, workdir, line.group(4), 2.0))
            detail.append(f"stop -> uploadSuccess {latency:.0f} ms")
            puts = [r for r in s3.proxy.state()["requests"] if r["method"] == "PUT"]
            require(len(puts) == 1 and not puts[0]["query"],
                    f"a short recording should be one PUT: {puts}")
            require(not spool_files(server), f"spool not empty: {spool_files(server)}")
            local = [n for n in os.listdir(server.storage_dir) if not n.startswith(".")]
            require(not local, f"a copy was kept in local storage: {local}")
        with results.check("s3-put/secrets-kept", detail := []):
            with open(server.log_path, "rb") as f:
                require(SECRET.encode() not in f.read(), "the secret key is in the log")
            kids = server.children()
            require(kids, "no worker to look at")
            for pid in kids:
                for what in ("cmdline", "environ"):
                    with open(f"/proc/{pid}/{what}", "rb") as f:
                        require(SECRET.encode() not in f.read(),
                                f"the secret is in worker {pid}'s {what}")
            detail.append(s3.require_clean())
        with results.check("s3-put/status"):
            st = ctl(server, "status")
            require(st["pending_uploads"] == 0, f"pending_uploads {st['pending_uploads']}")
            require(ctl(server, "uploads")["uploads"] == [], "uploads not empty")
    finally:
        server.stop()


class NoisyTrack(rc.SyntheticVideoTrack):
    """Frames of noise: the encoder spends all the bitrate it is allowed."""

    def __init__(self):
        super().__init__(1280, 720)
        import numpy
        rng = numpy.random.default_rng(7)
        self._noise = [rng.integers(0, 256, (720 * 3 // 2, 1280), dtype=numpy.uint8)
                       for _ in range(8)]

    def _draw(self, n: int):
        frame = self._noise[n % len(self._noise)].copy()
        frame[0:16, :] = (n * 7) & 0xFF
        return frame


def high_bitrate_aiortc(bits_per_s: int) -> None:
    import aiortc.codecs.vpx as vpx
    vpx.DEFAULT_BITRATE = vpx.MIN_BITRATE = vpx.MAX_BITRATE = bits_per_s
    rc.SyntheticVideoTrack = NoisyTrack


async def case_multipart(args, results: Results, workdir: str, s3: S3Side) -> None:
    set_credentials()
    part = 5 * 1024 * 1024
    server = Server(args.master, args.worker, workdir, s3.server_args(None, "--s3-part-size", "5"))
    server.start()
    results.server = server
    saved = rc.SyntheticVideoTrack
    try:
        detail: List[str] = []
        with results.check("s3-multipart/parts-while-recording", detail):
            high_bitrate_aiortc(12_000_000)
            client = await record(server, 1.0)
            t_rec = time.monotonic()

            def recorded() -> int:
                sessions = ctl(server, "sessions")["sessions"]
                return sessions[0]["bytes"] if sessions else 0
            def parts_sent() -> int:
                return sum(1 for r in s3.proxy.state()["requests"]
                           if r["method"] == "PUT" and "partNumber" in r["query"])
            await wait_for(lambda: recorded() > 3 * part + part // 2 and parts_sent() >= 2, 45,
                           "3.5 parts of media recorded and 2 parts sent", 0.5)
            seconds = time.monotonic() - t_rec
            before_stop = list(s3.proxy.state()["requests"])
            t0 = time.monotonic()
            await client.send({"id": "stop"})
            msg = await client.expect("uploadSuccess", 30)
            latency = (time.monotonic() - t0) * 1000
            await close_quietly(client)
            key = msg["key"]
            parts_early = [r for r in before_stop if r["method"] == "PUT" and "partNumber" in r["query"]]
            require(len(parts_early) >= 2, f"only {len(parts_early)} part(s) went up while "
                    "recording")
            require(not any("partNumber=1&" in r["query"] + "&" for r in parts_early),
                    "part 1 (the header) went up before the recording ended")
            reqs = s3.proxy.state()["requests"]
            numbers = sorted({int(re.search(r"partNumber=(\d+)", r["query"]).group(1))
                              for r in reqs if r["method"] == "PUT" and "partNumber" in r["query"]})
            require(len(numbers) >= 3 and numbers == list(range(1, len(numbers) + 1)),
                    f"parts {numbers}")
            line = stored_line(server, key)
            require(line is not None, "the worker did not log the object's SHA-256")
            detail.append(f"{len(numbers)} parts, {len(parts_early)} sent while recording")
            detail.append(check_object(s3, key, workdir, line.group(4), seconds * 0.8))
            detail.append(f"stop -> uploadSuccess {latency:.0f} ms")
            detail.append(s3.require_clean())
            require(not spool_files(server), f"spool not empty: {spool_files(server)}")
    finally:
        rc.SyntheticVideoTrack = saved
        server.stop()


async def case_outage(args, results: Results, workdir: str, s3: S3Side) -> None:
    set_credentials()
    server = Server(args.master, args.worker, workdir, s3.server_args())
    server.start()
    results.server = server
    try:
        detail: List[str] = []
        with results.check("s3-outage/pending-then-arrives", detail):
            client = await record(server, 1.5)
            s3.store.stop()                        # S3 goes away mid-session
            await asyncio.sleep(1.5)
            name = await stop_expect_pending(client)
            await close_quietly(client)
            spooled = os.path.join(spool_dir(server), name)
            require(os.path.exists(spooled), f"{spooled} is not in the spool: "
                    f"{spool_files(server)}")
            require(os.path.exists(spooled + ".upload"), "no sidecar next to it")
            want = sha256_file(spooled)
            ups = ctl(server, "uploads")["uploads"]
            require(len(ups) == 1 and ups[0]["key"] == name and ups[0]["attempts"] >= 1
                    and ups[0]["last_error"], f"uploads: {ups}")
            require(ctl(server, "status")["pending_uploads"] == 1, "pending_uploads")
            table = ctl_table(server, "uploads")
            require(name in table and "LAST ERROR" in table, f"uploads table: {table!r}")
            await asyncio.sleep(2.5)               # a retry or two fail while it is down
            s3.store.start()
            await wait_for(lambda: not spool_files(server), 20, "the spool emptied")
            detail.append(check_object(s3, name, workdir, want, 2.0))
            require(ctl(server, "uploads")["uploads"] == [], "still listed")
            detail.append(s3.require_clean())
    finally:
        if s3.store.proc is None:
            s3.store.start()
        server.stop()


async def case_restart(args, results: Results, workdir: str, s3: S3Side) -> None:
    set_credentials()
    server = Server(args.master, args.worker, workdir, s3.server_args())
    server.start()
    results.server = server
    try:
        detail: List[str] = []
        with results.check("s3-restart/killed-while-pending", detail):
            s3.store.stop()
            client = await record(server, 2.0)
            name = await stop_expect_pending(client)
            await close_quietly(client)
            want = sha256_file(os.path.join(spool_dir(server), name))
            server.stop()                          # SIGKILL, upload pending
            s3.store.start()
            server = Server(args.master, args.worker, workdir, s3.server_args())
            server.start()
            results.server = server
            await wait_for(lambda: s3.has(name), 20, "the object after the restart")
            detail.append(check_object(s3, name, workdir, want, 1.5))
            await wait_for(lambda: not spool_files(server), 5, "the spool emptied")
        with results.check("s3-restart/worker-killed", detail := []):
            client = RecorderClient(server.ws_url)
            await start_connected(client)
            await asyncio.sleep(2.0)
            busy = [w for w in ctl(server, "workers")["workers"] if w["state"] == "busy"]
            require(len(busy) == 1, f"workers: {busy}")
            os.kill(busy[0]["pid"], signal.SIGKILL)
            msg = await client.next_message(10)
            await close_quietly(client)
            text = msg.get("message", "") if isinstance(msg, dict) else ""
            require("pending" in text, f"expected an upload-pending error, got {msg!r:.300}")
            name = re.search(r"\((\S+\.(?:webm|mkv))\)", text).group(1)
            await wait_for(lambda: s3.has(name), 15, "the salvaged recording in S3")
            data = s3.get(name)
            path = os.path.join(workdir, "salvaged-" + name)
            with open(path, "wb") as f:
                f.write(data)
            probe = rc.probe_recording(path)
            require(probe.get("streams"), "ffprobe finds no stream in the salvaged object")
            detail.append(f"{len(data)} bytes salvaged and uploaded")
            detail.append(s3.require_clean())
    finally:
        server.stop()


async def case_drain(args, results: Results, workdir: str, s3: S3Side) -> None:
    """SIGTERM with S3 hanging (a listener that never answers) and an
    upload-timeout longer than the master's 15 s stop timeout: the master
    waits out the workers' upload budget, so the client still hears that its
    upload is pending, and it exits 0."""
    set_credentials()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)
    endpoint = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
    server = Server(args.master, args.worker, workdir,
                    s3.server_args(endpoint, "--upload-timeout", "18", "--drain-timeout", "0"))
    server.start()
    results.server = server
    try:
        with results.check("s3-drain/pending-past-stop-timeout", detail := []):
            client = await record(server, 1.5)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)   # drain-timeout 0: stopped at once
            try:
                msg = await client.next_message(30)
            except Exception as e:  # the master exited and took the worker with it
                msg = f"{type(e).__name__}: {e}"
            took = time.monotonic() - t0
            await close_quietly(client)
            text = msg.get("message", "") if isinstance(msg, dict) else ""
            require("pending" in text,
                    f"after {took:.1f} s: expected an upload-pending error, got {msg!r:.300}")
            code = await asyncio.get_running_loop().run_in_executor(
                None, lambda: server.proc.wait(timeout=20))
            require(code == 0, f"the master exited with status {code}")
            detail.append(f"pending notice {took:.1f} s after SIGTERM, exit 0")
    finally:
        server.stop()
        blackhole.close()


async def case_spooled(args, results: Results, workdir: str, s3: S3Side) -> None:
    """A 12 MiB recording left in the spool by an earlier run (file and
    sidecar): the next start uploads it as a 3-part multipart upload from the
    spool (`webrtc-video-worker --upload`)."""
    set_credentials()
    spool = os.path.join(workdir, "storage", ".spool")
    os.makedirs(spool)
    name = "0123456789abcdef0123456789abcdef.mkv"
    data = os.urandom(12 * 1024 * 1024 + 12345)
    with open(os.path.join(spool, name), "wb") as f:
        f.write(data)
    with open(os.path.join(spool, name + ".upload"), "w") as f:
        json.dump({"key": name, "bytes": len(data), "attempts": 2, "last_error": "S3 was down",
                   "updated": 0}, f)
    s3.proxy.reset()
    server = Server(args.master, args.worker, workdir, s3.server_args(None, "--s3-part-size", "5"))
    server.start()
    results.server = server
    try:
        detail: List[str] = []
        with results.check("s3-spooled/multipart-from-spool", detail):
            await wait_for(lambda: s3.has(name), 20, "the spooled recording in S3")
            got = s3.get(name)
            require(got == data, f"object differs ({len(got)} vs {len(data)} bytes)")
            reqs = s3.proxy.state()["requests"]
            parts = sorted(int(re.search(r"partNumber=(\d+)", r["query"]).group(1))
                           for r in reqs if r["method"] == "PUT" and "partNumber" in r["query"])
            require(parts == [1, 2, 3], f"parts {parts}")
            await wait_for(lambda: not spool_files(server), 5, "the spool emptied")
            detail.append(f"{len(data)} bytes in parts {parts}, byte-identical")
            detail.append(s3.require_clean())
    finally:
        server.stop()


def run_master(args, *extra: str, env_drop=(), timeout: float = 10.0):
    env = dict(os.environ)
    for k in env_drop:
        env.pop(k, None)
    cmd = [args.master, "--listen", f"127.0.0.1:{free_port()}", "--control-socket", "",
           "--storage-dir", tempfile.mkdtemp(prefix="wv-s3cfg-"), *extra]
    if args.worker:
        cmd += ["--worker-path", args.worker]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


async def pending_with(args, results, workdir, s3, name, server_args, mention) -> None:
    server = Server(args.master, args.worker, os.path.join(workdir, name), server_args)
    os.makedirs(os.path.join(workdir, name), exist_ok=True)
    server.start()
    results.server = server
    try:
        detail: List[str] = []
        with results.check(f"s3-config/{name}", detail):
            client = await record(server, 1.5)
            key = await stop_expect_pending(client)
            await close_quietly(client)
            ups = ctl(server, "uploads")["uploads"]
            require(len(ups) == 1 and ups[0]["key"] == key, f"uploads: {ups}")
            require(mention.lower() in ups[0]["last_error"].lower(),
                    f"last_error {ups[0]['last_error']!r} does not mention {mention!r}")
            require(os.path.exists(os.path.join(spool_dir(server), key)), "not in the spool")
            detail.append(f"pending: {ups[0]['last_error'][:80]}")
    finally:
        server.stop()


class NoServer:
    """Results' server while a case runs masters of its own that must not start."""

    def log_size(self) -> int:
        return 0

    def log_since(self, offset: int, limit: int = 40) -> str:
        return ""


def uploader_exits_without_master(args) -> None:
    """`webrtc-video-worker --upload` whose master goes away before sending
    its UPLOAD frame exits instead of waiting for ever."""
    worker = args.worker or os.path.join(os.path.dirname(args.master), "..", "worker",
                                         "webrtc-video-worker")
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([worker, "--upload", "--ipc-fd", str(theirs.fileno())],
                            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs.close()
    try:
        ours.settimeout(10)
        require(len(ours.recv(4096)) > 0, "no HELLO from the uploader")
        ours.close()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            raise CaseFailed("the uploader still runs 5 s after its master link closed")
        require(code == 0, f"the orphaned uploader exited with {code}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def case_config(args, results: Results, workdir: str, s3: S3Side) -> None:
    set_credentials()
    results.server = NoServer()
    bad = [
        ("no-region", ["--s3-bucket", BUCKET], (), "region"),
        ("no-bucket", ["--s3-region", REGION], (), "no bucket"),
        ("no-credentials", ["--s3-bucket", BUCKET, "--s3-region", REGION],
         ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "AWS_ACCESS_KEY_ID"),
        ("bad-endpoint", ["--s3-bucket", BUCKET, "--s3-region", REGION,
                          "--s3-endpoint", "ftp://127.0.0.1"], (), "http"),
        ("small-parts", ["--s3-bucket", BUCKET, "--s3-region", REGION, "--s3-part-size", "4"],
         (), "part-size"),
        ("bad-bucket", ["--s3-bucket", "Bad_Bucket", "--s3-region", REGION], (), "bucket name"),
        ("endpoint-credentials", ["--s3-bucket", BUCKET, "--s3-region", REGION,
                                  "--s3-endpoint", "http://AKID:sekrit-in-url@127.0.0.1:9"],
         (), "credentials"),
    ]
    for name, extra, drop, mention in bad:
        with results.check(f"s3-config/{name}"):
            out = run_master(args, *extra, env_drop=drop)
            require(out.returncode == 2, f"exit {out.returncode}, stderr {out.stderr[-300:]!r}")
            require(mention.lower() in out.stderr.lower(),
                    f"the message does not mention {mention!r}: {out.stderr.strip()[-300:]!r}")
            require("sekrit" not in out.stderr, "a secret in the endpoint reached the log")
    with results.check("s3-config/uploader-orphan"):
        uploader_exits_without_master(args)
    # wrong secret: every request refused (403 SignatureDoesNotMatch): pending, visible
    set_credentials("not-the-secret")
    await pending_with(args, results, workdir, s3, "wrong-secret", s3.server_args(),
                       "SignatureDoesNotMatch")
    set_credentials()
    # nothing listens at the endpoint
    dead = f"http://127.0.0.1:{free_port()}"
    await pending_with(args, results, workdir, s3, "unreachable", s3.server_args(dead), "")


CASES = [("put", case_put), ("multipart", case_multipart), ("outage", case_outage),
         ("restart", case_restart), ("drain", case_drain), ("spooled", case_spooled),
         ("config", case_config)]


async def run(args, workdir: str) -> int:
    rc.restrict_ice_addresses([CLIENT_IP])
    results = Results(None)
    try:
        s3 = S3Side()
    except Exception as e:
        print(f"FAIL s3-setup: {e}", flush=True)
        return 2
    try:
        for name, case in CASES:
            if args.case and name not in args.case:
                continue
            t0 = time.monotonic()
            try:
                casedir = os.path.join(workdir, name)
                os.makedirs(casedir, exist_ok=True)
                await asyncio.wait_for(case(args, results, casedir, s3), CASE_TIMEOUT)
            except asyncio.TimeoutError:
                results.fail(name, f"case timed out after {CASE_TIMEOUT:g} s")
            except Exception as e:
                results.fail(name, f"unexpected {type(e).__name__}: {e}")
            print(f"# {name}: {time.monotonic() - t0:.1f} s", flush=True)
    finally:
        s3.close()
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed"
          + (": " + ", ".join(results.failed) if results.failed else ""), flush=True)
    return 1 if results.failed or not results.passed else 0


def main() -> int:
    global CTL
    p = argparse.ArgumentParser(description="End-to-end test of S3 storage and the spool.")
    p.add_argument("--master", required=True)
    p.add_argument("--worker")
    p.add_argument("--ctl", help="webrtc-videoctl (default: next to the master)")
    p.add_argument("--case", action="append", choices=[name for name, _ in CASES])
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    status = enter_test_namespace(__file__)
    if status:
        return status
    args.master = os.path.abspath(args.master)
    args.worker = os.path.abspath(args.worker) if args.worker else None
    CTL = os.path.abspath(args.ctl) if args.ctl else os.path.join(
        os.path.dirname(args.master), "ctl", "webrtc-videoctl")
    return run_in_workdir("wv-s3e2e-", lambda workdir: run(args, workdir), args.keep)


if __name__ == "__main__":
    sys.exit(main())
