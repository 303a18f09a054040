#!/usr/bin/python3
"""tests/ops/test_ctl.py - operating webrtc-video: control socket, webrtc-videoctl,
drain, reload and the stop signals.

Starts build/master/webrtc-video itself (HTTP on 127.0.0.1, ICE on tv0, a
control socket in a temporary directory) inside a private network namespace
(tests/lib/netns.sh, re-executed as tests/e2e/test_recorder.py does), drives
webrtc-videoctl against it and records with the aiortc clients of
tests/lib/recorder_client.py. Every check prints `ok NAME` or `FAIL NAME:
reason`; exit status 1 if any failed, 2 on a setup error, 77 (skipped) when
not root or without aiortc.

    tests/lib/netns.sh /usr/bin/python3 tests/ops/test_ctl.py \\
        --master build/master/webrtc-video --worker build/worker/webrtc-video-worker \\
        --ctl build/master/ctl/webrtc-videoctl [--case cli] [--keep]

Case groups (one meson test each): cli, protocol, drain, kill, reload,
sigterm, drain-timeout, fast-stop, notify (sd_notify, the master seen from a
NOTIFY_SOCKET the test owns, as systemd sees it).
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)

import harness  # noqa: E402
from harness import (CLIENT_IP, SERVER_IP, CaseFailed, free_port,  # noqa: E402
                     enter_test_namespace, require, run_in_workdir)

RECORD_SECONDS = 3.0


class Server:
    """A master with its config file, storage dir, control socket and log."""

    def __init__(self, args, workdir: str, name: str, extra: Optional[List[str]] = None):
        self.args = args
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.storage = os.path.join(self.dir, "storage")
        # a directory that does not exist yet: the master creates it 0750
        self.sock = os.path.join(self.dir, "run", "control.sock")
        self.conf = os.path.join(self.dir, "webrtc-video.conf")
        self.log_path = os.path.join(self.dir, "master.log")
        self.extra = extra or []
        self.env: Optional[dict] = None  # None: this process's environment
        self.proc: Optional[subprocess.Popen] = None
        self.write_conf()

    def write_conf(self, min_spare: int = 1, listen: Optional[str] = None,
                   extra: str = "") -> None:
        with open(self.conf, "w") as f:
            f.write(f"[server]\nlisten = {listen or f'127.0.0.1:{self.port}'}\n"
                    f"log-level = info\n{extra}"
                    f"[storage]\ndir = {self.storage}\n"
                    f"[workers]\nmin-spare = {min_spare}\nmax-spare = 4\nmax = 4\n"
                    f"path = {self.args.worker}\n"
                    f"[ice]\naddresses = {SERVER_IP}\n")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/recorder"

    def start(self) -> None:
        cmd = [self.args.master, "--config", self.conf, "--control-socket", self.sock,
               *self.extra]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True, env=self.env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"master exited with {self.proc.returncode}: "
                                   + self.log_tail())
            with contextlib.suppress(OSError):
                status, body = rc.http_get(f"http://127.0.0.1:{self.port}/ping", timeout=1)
                if status == 200 and os.path.exists(self.sock):
                    return
            time.sleep(0.1)
        raise RuntimeError("master did not answer /ping within 20 s")

    def log_tail(self, n: int = 25) -> str:
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])

    def log_text(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def sessions(self) -> int:
        status, body = rc.http_get(f"http://127.0.0.1:{self.port}/sessions")
        require(status == 200, f"/sessions: HTTP {status}")
        return int(body.strip())

    async def wait_sessions(self, want: int, timeout: float = 8.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            n = self.sessions()
            if n == want or time.monotonic() > deadline:
                return n
            await asyncio.sleep(0.2)

    def ctl(self, *argv: str, sock: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.args.ctl, "-s", sock or self.sock, *argv],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def ctl_json(self, *argv: str) -> dict:
        r = self.ctl("--json", *argv)
        require(r.returncode == 0, f"webrtc-videoctl --json {' '.join(argv)}: exit "
                f"{r.returncode}, stderr {r.stderr.strip()!r}")
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise CaseFailed(f"webrtc-videoctl --json {' '.join(argv)}: not JSON: "
                             f"{r.stdout[:200]!r}")

    async def wait_exit(self, timeout: float) -> Optional[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return self.proc.returncode
            await asyncio.sleep(0.1)
        return None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


class Results(harness.Results):
    server: Optional[Server] = None

    def tail(self) -> str:
        return self.server.log_tail(15) if self.server else ""


def good_recording(path: str, seconds: Optional[float] = None) -> str:
    result = rc.check_recording(path, seconds=seconds, strict=False)
    require(result.ok, "; ".join(result.problems) + f" [{result.summary}]")
    return result.summary


async def recording_client(server: Server, name: str) -> "rc.RecorderClient":
    client = rc.RecorderClient(server.ws_url, name=name)
    await client.connect()
    await client.start()
    await client.wait_connected()
    return client


async def expect_draining_refusal(server: Server, name: str) -> str:
    client = rc.RecorderClient(server.ws_url, name=name)
    try:
        await client.connect()
        await client.make_offer()
        await client.send({"id": "start", "sdpOffer": client.offer_sdp})
        msg = await client.expect_error(5)
        text = msg.get("message", "")
        require("draining" in text, f"start while draining: error {text!r} does not say "
                "the server is draining")
        return text
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def wait_upload_success(client, timeout: float = 20.0) -> dict:
    msg = await client.expect("uploadSuccess", timeout)
    require(isinstance(msg.get("key"), str) and isinstance(msg.get("videoUrl"), str),
            f"uploadSuccess without key/videoUrl: {msg}")
    return msg


def stored_path(server: Server, key: str) -> str:
    path = os.path.join(server.storage, key)
    require(os.path.isfile(path), f"recording {key} not in {server.storage}")
    return path


# ---- cases ------------------------------------------------------------------

async def case_cli(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "cli")
    with results.check("cli/server-down", detail := []):
        r = server.ctl("status")
        require(r.returncode == 3, f"no server: exit {r.returncode}, expected 3")
        require(server.sock in r.stderr and "No such file or directory" in r.stderr,
                f"message does not name the socket and the errno text: {r.stderr.strip()!r}")
        detail.append(r.stderr.strip())
    with results.check("cli/stale-socket", detail := []):
        stale = os.path.join(workdir, "stale.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(stale)
        s.close()  # a socket file nobody listens on
        r = server.ctl("status", sock=stale)
        require(r.returncode == 3 and "Connection refused" in r.stderr and stale in r.stderr,
                f"exit {r.returncode}, stderr {r.stderr.strip()!r}")
        detail.append(r.stderr.strip())
    with results.check("cli/usage"):
        for argv in ([], ["bogus"], ["drain"], ["drain", "maybe"], ["kill"],
                     ["status", "extra"], ["--nope", "status"]):
            r = server.ctl(*argv)
            require(r.returncode == 2, f"webrtc-videoctl {argv}: exit {r.returncode}, expected 2")
            require(r.stderr.strip(), f"webrtc-videoctl {argv}: no message")
        r = subprocess.run([args.ctl, "--help"], capture_output=True, text=True)
        require(r.returncode == 0 and "drain on|off" in r.stdout, "--help")
    server.start()
    results.server = server
    try:
        with results.check("cli/socket-mode", detail := []):
            st = os.lstat(server.sock)
            require(stat.S_ISSOCK(st.st_mode), "not a socket")
            mode = stat.S_IMODE(st.st_mode)
            require(mode == 0o660, f"socket mode {mode:o}, expected 660")
            dmode = stat.S_IMODE(os.stat(os.path.dirname(server.sock)).st_mode)
            require(dmode == 0o750, f"created directory mode {dmode:o}, expected 750")
            detail.append(f"socket {mode:o}, directory {dmode:o}")
        with results.check("cli/status", detail := []):
            d = server.ctl_json("status")
            for key in ("version", "uptime_s", "config_file", "draining", "sessions",
                        "workers", "pending_uploads", "signaling"):
                require(key in d, f"status --json lacks {key!r}: {d}")
            require(d["config_file"] == server.conf and d["draining"] is False and
                    d["sessions"] == 0 and d["pending_uploads"] == 0, f"status: {d}")
            for key in ("idle", "busy", "starting"):
                require(isinstance(d["workers"].get(key), int), f"workers.{key}: {d}")
            r = server.ctl("status")
            require(r.returncode == 0, f"status: exit {r.returncode}")
            lines = r.stdout.splitlines()
            require(any(l.startswith("version:") and d["version"] in l for l in lines),
                    f"human status lacks the version: {r.stdout!r}")
            cols = {l.index(l.split(":", 1)[1].strip()) for l in lines if ":" in l}
            require(len(cols) == 1, f"human status values not aligned: {r.stdout!r}")
            detail.append(f"version {d['version']}, workers {d['workers']}")
        with results.check("cli/workers", detail := []):
            d = server.ctl_json("workers")
            ws = d.get("workers")
            require(isinstance(ws, list) and ws, f"workers: {d}")
            for w in ws:
                require({"pid", "state", "session", "age_s", "bytes"} <= set(w), f"worker {w}")
            r = server.ctl("workers")
            lines = r.stdout.splitlines()
            require(r.returncode == 0 and lines[0].split()[:2] == ["PID", "STATE"],
                    f"human workers: {r.stdout!r}")
            require(str(ws[0]["pid"]) in r.stdout, "human workers lack the pid")
            require(len(lines) == len(ws) + 1, f"{len(lines)} lines for {len(ws)} workers")
            require(len({l.index(l.split()[1]) for l in lines}) == 1,
                    f"columns not aligned: {r.stdout!r}")
            detail.append(f"{len(ws)} worker(s)")
        with results.check("cli/sessions-empty"):
            d = server.ctl_json("sessions")
            require(d == {"sessions": []}, f"sessions: {d}")
            r = server.ctl("sessions")
            require(r.returncode == 0 and "no sessions" in r.stdout, f"{r.stdout!r}")
        with results.check("cli/uploads"):
            d = server.ctl_json("uploads")
            require(d == {"uploads": []}, f"uploads: {d}")
            r = server.ctl("uploads")
            require(r.returncode == 0 and "no pending uploads" in r.stdout, f"{r.stdout!r}")
        with results.check("cli/drain-idle"):
            d = server.ctl_json("drain", "on")
            require(d.get("draining") is True, f"drain on: {d}")
            require(server.ctl_json("status")["draining"] is True, "status not draining")
            r = server.ctl("drain", "off")
            require(r.returncode == 0 and "off" in r.stdout, f"drain off: {r.stdout!r}")
            require(server.ctl_json("status")["draining"] is False, "still draining")
        with results.check("cli/kill-unknown", detail := []):
            r = server.ctl("kill", "424242")
            require(r.returncode == 1 and "424242" in r.stderr,
                    f"kill of no session: exit {r.returncode}, {r.stderr.strip()!r}")
            detail.append(r.stderr.strip())
        with results.check("cli/second-server", detail := []):
            other = subprocess.run([args.master, "--listen", f"127.0.0.1:{free_port()}",
                                    "--storage-dir", os.path.join(workdir, "other"),
                                    "--worker-path", args.worker, "--control-socket",
                                    server.sock], capture_output=True, text=True, timeout=20,
                                   stdin=subprocess.DEVNULL)
            require(other.returncode != 0 and "another server" in other.stderr,
                    f"a second server on a live socket: exit {other.returncode}, "
                    f"{other.stderr.strip()[-300:]!r}")
            require(server.ctl("status").returncode == 0, "the first server stopped answering")
            detail.append("refused: another server is running")
        with results.check("cli/sigterm-idle", detail := []):
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            code = await server.wait_exit(10)
            require(code == 0, f"idle server on SIGTERM: exit {code}")
            require(not os.path.exists(server.sock), "control socket left behind")
            r = server.ctl("status")
            require(r.returncode == 3, f"after exit: exit {r.returncode}, expected 3")
            detail.append(f"exit 0 in {time.monotonic() - t0:.2f} s, socket removed")
        with results.check("cli/stale-replaced"):
            s = socket.socket(socket.AF_UNIX)
            s.bind(server.sock)
            s.close()
            server.start()
            require(server.ctl("status").returncode == 0, "no answer on the replaced socket")
    finally:
        server.stop()


def raw_exchange(path: str, data: bytes, want_lines: int, timeout: float = 5.0,
                 half_close: bool = False) -> List[dict]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)  # as `printf ... | socat - UNIX-CONNECT:...` does
        buf = b""
        while buf.count(b"\n") < want_lines:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return [json.loads(l) for l in buf.decode().splitlines() if l.strip()]


async def case_protocol(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "protocol")
    server.start()
    results.server = server
    try:
        with results.check("protocol/several-requests", detail := []):
            out = raw_exchange(server.sock, b'{"command":"status"}\n{"command":"workers"}\n'
                               b'{"command":"sessions"}\n', 3)
            require(len(out) == 3 and all(o.get("ok") is True for o in out),
                    f"three requests on one connection: {out}")
            require("version" in out[0]["data"] and "workers" in out[1]["data"], f"{out}")
        with results.check("protocol/half-close"):
            out = raw_exchange(server.sock, b'{"command":"status"}\n{"command":"uploads"}\n', 2,
                               half_close=True)
            require(len(out) == 2 and all(o.get("ok") for o in out),
                    f"requests then shutdown(SHUT_WR): answers {out}")
        with results.check("protocol/bad-requests", detail := []):
            bad = [b"not json", b"[1,2]", b'{"command":1}', b'{"nothing":"here"}',
                   b'{"command":"launch-missiles"}', b'{"command":"drain","arg":"sideways"}',
                   b'{"command":"kill","arg":"x1"}', b'{"command":"status"']
            out = raw_exchange(server.sock, b"\n".join(bad) + b"\n", len(bad))
            require(len(out) == len(bad), f"{len(out)} answers to {len(bad)} bad requests")
            for req, o in zip(bad, out):
                require(o.get("ok") is False and isinstance(o.get("error"), str) and o["error"],
                        f"{req!r}: {o}")
            detail.append("; ".join(o["error"][:40] for o in out[:3]))
        with results.check("protocol/overlong-line"):
            out = raw_exchange(server.sock, b"x" * 70000, 1)
            require(out and out[0].get("ok") is False and "longer" in out[0]["error"],
                    f"overlong request: {out}")
        with results.check("protocol/still-alive"):
            require(server.proc.poll() is None, "the master died")
            require(server.ctl("status").returncode == 0, "no status after bad requests")
    finally:
        server.stop()


async def case_drain(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "drain")
    server.start()
    results.server = server
    a = None
    try:
        with results.check("drain/recording"):
            a = await recording_client(server, "drain-a")
            require(server.sessions() == 1, "/sessions is not 1")
        with results.check("drain/sessions-listed", detail := []):
            d = server.ctl_json("sessions")["sessions"]
            require(len(d) == 1, f"sessions: {d}")
            s = d[0]
            require(s["state"] == "recording" and s["worker_pid"] > 0 and
                    s["client"].startswith("127.0.0.1:") and s["duration_s"] >= 0,
                    f"session: {s}")
            await asyncio.sleep(1.5)
            s2 = server.ctl_json("sessions")["sessions"][0]
            require(s2["bytes"] > 0, f"no bytes recorded after 1.5 s: {s2}")
            w = [w for w in server.ctl_json("workers")["workers"] if w["pid"] == s["worker_pid"]]
            require(w and w[0]["state"] == "busy" and w[0]["session"] == s["id"],
                    f"worker of the session: {w}")
            r = server.ctl("sessions")
            require(r.returncode == 0 and r.stdout.split()[0] == "ID" and
                    str(s["worker_pid"]) in r.stdout and "recording" in r.stdout,
                    f"human sessions: {r.stdout!r}")
            detail.append(f"session {s['id']} on worker {s['worker_pid']}, {s2['bytes']} B")
        with results.check("drain/on", detail := []):
            r = server.ctl("drain", "on")
            require(r.returncode == 0, f"drain on: exit {r.returncode}")
            detail.append(await expect_draining_refusal(server, "drain-refused"))
            require(server.sessions() == 1, "/sessions is not 1 while draining")
        with results.check("drain/running-session-finishes", detail := []):
            await asyncio.sleep(max(0.0, a.connected_at + RECORD_SECONDS - time.monotonic()))
            rec = await a.stop()
            path = os.path.join(server.dir, "a.mkv")
            await a.download(rec, path)
            detail.append(good_recording(path, rec.seconds_sent))
        with results.check("drain/sessions-count-down"):
            n = await server.wait_sessions(0)
            require(n == 0, f"/sessions is {n} after the session ended, expected 0")
        with results.check("drain/off"):
            r = server.ctl("drain", "off")
            require(r.returncode == 0, f"drain off: exit {r.returncode}")
            c = await recording_client(server, "drain-c")
            await asyncio.sleep(1.0)
            rec = await c.stop()
            await c.close()
            require(rec.key, "no recording after drain off")
    finally:
        if a:
            await a.close()
        server.stop()


async def case_kill(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "kill")
    server.start()
    results.server = server
    client = None
    try:
        with results.check("kill/session", detail := []):
            client = await recording_client(server, "kill")
            await asyncio.sleep(RECORD_SECONDS)
            sessions = server.ctl_json("sessions")["sessions"]
            require(len(sessions) == 1, f"sessions: {sessions}")
            sid = sessions[0]["id"]
            r = server.ctl("kill", str(sid))
            require(r.returncode == 0 and str(sid) in r.stdout,
                    f"kill {sid}: exit {r.returncode}, {r.stdout!r} {r.stderr!r}")
            msg = await wait_upload_success(client)
            path = os.path.join(server.dir, "killed.mkv")
            await client.download(rc.Recording(key=msg["key"], video_url=msg["videoUrl"],
                                               seconds_sent=0), path)
            detail.append(good_recording(path))
            require(await server.wait_sessions(0) == 0, "/sessions did not go to 0")
            r = server.ctl("kill", str(sid))
            require(r.returncode == 1, f"second kill of {sid}: exit {r.returncode}, expected 1")
    finally:
        if client:
            await client.close()
        server.stop()


async def case_reload(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "reload")
    server.start()
    results.server = server
    try:
        with results.check("reload/changed", detail := []):
            server.write_conf(min_spare=3, listen=f"127.0.0.1:{free_port()}")
            d = server.ctl_json("reload")
            require(d.get("reloaded") is True and "listen" in d.get("restart_needed", []),
                    f"reload: {d}")
            deadline = time.monotonic() + 15
            idle = 0
            while time.monotonic() < deadline:
                idle = server.ctl_json("status")["workers"]["idle"]
                if idle >= 3:
                    break
                await asyncio.sleep(0.3)
            require(idle >= 3, f"{idle} idle workers after min-spare went to 3")
            r = server.ctl("reload")
            require(r.returncode == 0 and "restart" in r.stdout and "listen" in r.stdout,
                    f"human reload: {r.stdout!r}")
            detail.append(f"min-spare 3 applied ({idle} idle); restart needed: listen")
        with results.check("reload/broken", detail := []):
            with open(server.conf, "a") as f:
                f.write("[workers]\nmin-spare = lots\n")
            r = server.ctl("reload")
            require(r.returncode == 1 and "min-spare" in r.stderr,
                    f"broken config: exit {r.returncode}, {r.stderr.strip()!r}")
            with open(server.conf, "w") as f:
                f.write("[server]\nlisten = 127.0.0.1:1\nno-such-key = 1\n")
            r = server.ctl("reload")
            require(r.returncode == 1 and "no-such-key" in r.stderr,
                    f"unknown key: exit {r.returncode}, {r.stderr.strip()!r}")
            require(server.ctl("status").returncode == 0, "server gone after a bad reload")
            detail.append(r.stderr.strip())
        with results.check("reload/sighup"):
            server.write_conf(min_spare=1)
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while "reload (SIGHUP)" not in server.log_text() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            require("reload (SIGHUP)" in server.log_text(), "SIGHUP: no reload in the log")
            require(server.proc.poll() is None, "SIGHUP killed the master")
        with results.check("reload/new-session"):
            c = await recording_client(server, "after-reload")
            await asyncio.sleep(1.0)
            await c.stop()
            await c.close()
    finally:
        server.stop()


async def case_sigterm(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "sigterm")
    server.start()
    results.server = server
    client = None
    try:
        with results.check("sigterm/session-in-flight", detail := []):
            client = await recording_client(server, "sigterm")
            await asyncio.sleep(1.5)
            server.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)
            require(server.proc.poll() is None, "the master exited with a session recording")
            require(server.sessions() == 1, "/sessions is not 1 during the drain")
            require(server.ctl_json("status")["draining"] is True, "status: not draining")
            detail.append(await expect_draining_refusal(server, "sigterm-refused"))
            rec = await client.stop()
            code = await server.wait_exit(10)
            require(code == 0, f"exit status {code} after the last session, expected 0")
            detail.append(good_recording(stored_path(server, rec.key), rec.seconds_sent))
    finally:
        if client:
            await client.close()
        server.stop()


async def case_drain_timeout(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "drain-timeout", ["--drain-timeout", "2"])
    server.start()
    results.server = server
    client = None
    try:
        with results.check("drain-timeout/session-stopped", detail := []):
            client = await recording_client(server, "drain-timeout")
            await asyncio.sleep(1.5)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            msg = await wait_upload_success(client, 15)
            waited = time.monotonic() - t0
            require(waited >= 1.5, f"stopped after {waited:.1f} s, before the 2 s drain timeout")
            code = await server.wait_exit(10)
            require(code == 0, f"exit status {code}, expected 0")
            detail.append(f"stopped after {waited:.1f} s; "
                          + good_recording(stored_path(server, msg["key"])))
    finally:
        if client:
            await client.close()
        server.stop()


async def case_fast_stop(args, workdir: str, results: Results) -> None:
    server = Server(args, workdir, "fast-stop")
    server.start()
    results.server = server
    client = None
    try:
        with results.check("fast-stop/second-sigterm", detail := []):
            client = await recording_client(server, "fast-stop")
            await asyncio.sleep(1.5)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            msg = await wait_upload_success(client, 10)
            code = await server.wait_exit(10)
            require(code == 0, f"exit status {code}, expected 0")
            detail.append(f"exit 0 in {time.monotonic() - t0:.1f} s; "
                          + good_recording(stored_path(server, msg["key"])))
    finally:
        if client:
            await client.close()
        server.stop()


class NotifyListener:
    """The service manager's end of sd_notify: a datagram socket whose
    messages are kept with the sender's pid (SO_PASSCRED), as systemd does."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.messages: List[tuple] = []  # (pid, {field: value}, time)

    def drain(self) -> None:
        creds_len = socket.CMSG_SPACE(struct.calcsize("3i"))
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, creds_len)
            except BlockingIOError:
                return
            pid = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", value[:struct.calcsize("3i")])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((pid, fields, time.monotonic()))

    async def expect(self, key: str, timeout: float, since: int = 0) -> int:
        """Index of the first message from `since` on that carries `key`."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            for i in range(since, len(self.messages)):
                if key in self.messages[i][1]:
                    return i
            if time.monotonic() > deadline:
                seen = [m[1] for m in self.messages[since:]]
                raise CaseFailed(f"no {key} within {timeout} s; got {seen}")
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.sock.close()


async def case_notify(args, workdir: str, results: Results) -> None:
    listener = NotifyListener(os.path.join(workdir, "notify.sock"))
    server = Server(args, workdir, "notify", ["--drain-timeout", "60"])
    # WatchdogSec=2 as systemd passes it (no WATCHDOG_PID: any pid may use it)
    server.env = dict(os.environ, NOTIFY_SOCKET=listener.path, WATCHDOG_USEC="2000000")
    results.server = server
    client = None
    try:
        server.start()
        with results.check("notify/ready", detail := []):
            i = await listener.expect("READY", 10)
            pid, fields, _ = listener.messages[i]
            require(pid == server.proc.pid, f"READY=1 from pid {pid}, not the master "
                    f"({server.proc.pid}): NotifyAccess=main would drop it")
            require("idle" in fields.get("STATUS", ""), f"READY without a STATUS: {fields}")
            detail.append(fields["STATUS"])
        with results.check("notify/watchdog", detail := []):
            mark = len(listener.messages)
            await asyncio.sleep(2.0)
            listener.drain()
            pings = [m for m in listener.messages[mark:] if m[1].get("WATCHDOG") == "1"]
            require(len(pings) >= 3, f"{len(pings)} WATCHDOG=1 in 2 s with WatchdogSec=2")
            require(all(m[0] == server.proc.pid for m in pings), "WATCHDOG=1 not from the master")
            detail.append(f"{len(pings)} WATCHDOG=1 in 2 s (every 0.5 s: WatchdogSec / 4)")
        with results.check("notify/reload", detail := []):
            mark = len(listener.messages)
            server.proc.send_signal(signal.SIGHUP)
            i = await listener.expect("RELOADING", 5, mark)
            usec = int(listener.messages[i][1].get("MONOTONIC_USEC", "0"))
            now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6
            require(0 < now - usec < 5e6, f"MONOTONIC_USEC={usec} is not about now ({now:.0f})")
            j = await listener.expect("READY", 5, i + 1)
            detail.append(f"RELOADING=1 then READY=1, STATUS={listener.messages[j][1].get('STATUS')!r}")
        with results.check("notify/sigterm-extends", detail := []):
            client = await recording_client(server, "notify")
            await asyncio.sleep(1.0)
            mark = len(listener.messages)
            t0 = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            i = await listener.expect("STOPPING", 3, mark)
            j = await listener.expect("EXTEND_TIMEOUT_USEC", 3, mark)
            first = int(listener.messages[j][1]["EXTEND_TIMEOUT_USEC"])
            require(1e6 <= first <= 20e6, f"EXTEND_TIMEOUT_USEC={first}: not within 1..20 s")
            k = await listener.expect("EXTEND_TIMEOUT_USEC", 8, j + 1)
            gap = listener.messages[k][2] - listener.messages[j][2]
            require(gap * 1e6 < first, f"the next extension came after {gap:.1f} s, when the "
                    f"previous one ({first / 1e6:.0f} s) had run out")
            status = [m[1]["STATUS"] for m in listener.messages[mark:] if "STATUS" in m[1]]
            draining = [s for s in status if "draining" in s]
            require(draining, f"no draining STATUS: {status}")
            require(server.proc.poll() is None, "the master exited with a session recording")
            rec = await client.stop()
            code = await server.wait_exit(10)
            require(code == 0, f"exit status {code}, expected 0")
            detail.append(f"STOPPING=1, EXTEND_TIMEOUT_USEC={first} every {gap:.1f} s for "
                          f"{time.monotonic() - t0:.1f} s; STATUS {draining[0]!r}; exit 0; "
                          + good_recording(stored_path(server, rec.key), rec.seconds_sent))
    finally:
        if client:
            await client.close()
        server.stop()
        listener.close()


CASES = [("cli", case_cli), ("protocol", case_protocol), ("drain", case_drain),
         ("kill", case_kill), ("reload", case_reload), ("sigterm", case_sigterm),
         ("drain-timeout", case_drain_timeout), ("fast-stop", case_fast_stop),
         ("notify", case_notify)]


async def run(args, workdir: str) -> int:
    rc.restrict_ice_addresses([CLIENT_IP])
    results = Results()
    for name, case in CASES:
        if args.case and name not in args.case:
            continue
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(case(args, workdir, results), 90)
        except Exception as e:
            results.failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
        print(f"# {name}: {time.monotonic() - t0:.1f} s", flush=True)
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed"
          + (": " + ", ".join(results.failed) if results.failed else ""), flush=True)
    return 1 if results.failed else 0


def have_aiortc() -> int:
    try:
        import aiortc  # noqa: F401
        import websockets  # noqa: F401
    except ImportError:
        print("skipped: /usr/bin/python3 lacks aiortc or websockets", file=sys.stderr)
        return 77
    return 0


def main() -> int:
    root = os.path.dirname(os.path.dirname(HERE))
    p = argparse.ArgumentParser(description="Operations test: control socket and CLI.")
    p.add_argument("--master", default=os.path.join(root, "build/master/webrtc-video"))
    p.add_argument("--worker", default=os.path.join(root, "build/worker/webrtc-video-worker"))
    p.add_argument("--ctl", default=os.path.join(root, "build/master/ctl/webrtc-videoctl"))
    p.add_argument("--case", action="append", choices=[n for n, _ in CASES])
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args()
    status = enter_test_namespace(__file__, have_aiortc)
    if status:
        return status
    for attr in ("master", "worker", "ctl"):
        setattr(args, attr, os.path.abspath(getattr(args, attr)))
    global rc
    import recorder_client as rc  # noqa: E402 (needs aiortc: only inside the namespace)
    return run_in_workdir("wv-ops-", lambda workdir: run(args, workdir), args.keep)


if __name__ == "__main__":
    sys.exit(main())
