#!/usr/bin/python3
"""tests/e2e/test_www.py - the master's own HTTP pages, black-box.

Owns the tests of master/www.c and master/admin.c over plain HTTP (the
browser tests in tests/browser/ click through the same pages in Chromium):

  static/*    /api/client.js: content type, ETag + Last-Modified +
              Cache-Control: no-cache, 304 on If-None-Match, the bytes of
              master/www/client.js; 404 for escapes, hidden files, unknown
              extensions, directories
  admin/*     /admin and /admin/sessions: 401 + WWW-Authenticate without or
              with wrong credentials (user, password, malformed header), 200
              with them; the password is a PBKDF2 hash from the config file;
              a refused path is logged escaped (no raw control characters)
  sessions/*  an aiortc session (over the public websocket, no credentials)
              is listed by /admin/sessions as HTML and as JSON, with the
              same data as the control socket's `sessions`
  none/*      a server without credentials answers 404 on /admin, still
              serves /api/client.js; a malformed hash stops the start-up; a
              plain password with a ';' in the config file is read whole
  reload/*    changed credentials: the reload says a restart is needed

    tests/lib/netns.sh /usr/bin/python3 tests/e2e/test_www.py \\
        --master build/master/webrtc-video --worker build/worker/webrtc-video-worker

Output and exit status as test_recorder.py (whose Server and Results it
uses); re-executes itself in a private network namespace as root.
"""

import argparse
import asyncio
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
WWW = os.path.join(os.path.dirname(os.path.dirname(HERE)), "master", "www")
sys.path.insert(0, LIB)
sys.path.insert(0, HERE)

import recorder_client as rc  # noqa: E402
from harness import CLIENT_IP, SERVER_IP, enter_test_namespace, require, run_in_workdir  # noqa: E402
from test_recorder import Results, Server, hold_until, run_master, start_connected  # noqa: E402

USER = "operator"
PASSWORD = secrets.token_hex(8)


def pbkdf2_hash(password: str, iterations: int = 20000) -> str:
    """common/secret.h's stored format (Werkzeug's)."""
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations).hex()
    return f"pbkdf2:sha256:{iterations}${salt}${digest}"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request_patiently(server: Server, path: str, headers=None):
    """request(), waiting out the PBKDF2 budget's 429 (a loaded machine, or
    an ASan build, spends it in a couple of checks)."""
    for _ in range(10):
        status, hdrs, body = request(server, path, headers)
        if status != 429:
            break
        time.sleep(1.05)
    return status, hdrs, body


def request(server: Server, path: str, headers=None, method: str = "GET"):
    """(status, headers as a lower-case dict, body); the path is sent as is."""
    conn = http.client.HTTPConnection(SERVER_IP, server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


async def arequest(server: Server, path: str, headers=None):
    return await asyncio.get_running_loop().run_in_executor(None, request, server, path, headers)


AUTH = {"Authorization": basic(USER, PASSWORD)}


def case_static(server: Server, results: Results) -> None:
    with open(os.path.join(WWW, "client.js"), "rb") as f:
        source = f.read()
    with results.check("static/client-js", detail := []):
        status, headers, body = request(server, "/api/client.js")
        require(status == 200, f"HTTP {status}")
        require(headers.get("content-type", "").startswith("application/javascript"),
                f"content-type {headers.get('content-type')!r}")
        require(headers.get("cache-control") == "no-cache",
                f"cache-control {headers.get('cache-control')!r}")
        require(headers.get("etag", "").startswith('"') and headers.get("last-modified"),
                f"etag {headers.get('etag')!r}, last-modified {headers.get('last-modified')!r}")
        require(body == source, f"{len(body)} bytes, not master/www/client.js ({len(source)})")
        detail.append(f"etag {headers['etag']}, {len(body)} bytes")
    with results.check("static/not-modified"):
        status, headers2, body = request(server, "/api/client.js",
                                         {"If-None-Match": headers.get("etag", "x")})
        require(status == 304 and body == b"", f"HTTP {status}, {len(body)} bytes of body")
        require(headers2.get("etag") == headers.get("etag"), "the 304 lacks the ETag")
    with results.check("static/admin-files"):
        for path, ctype in (("/admin", "text/html"), ("/admin/admin.js", "application/javascript"),
                            ("/admin/admin.css", "text/css")):
            status, headers, _ = request_patiently(server, path, AUTH)
            require(status == 200 and headers.get("content-type", "").startswith(ctype),
                    f"{path}: HTTP {status}, content-type {headers.get('content-type')!r}")
    with results.check("static/refused", detail := []):
        for path in ("/admin/../../etc/passwd", "/admin/..%2f..%2fetc%2fpasswd",
                     "/admin/%2e%2e/meson.build", "/admin/.hidden.js", "/admin/meson.build",
                     "/admin/x/admin.js", "/admin/sessions.json", "/api/client.js/",
                     "/api/", "/api/../master/www/client.js", "/admin//etc/passwd"):
            status, _, body = request(server, path, AUTH)
            require(status == 404, f"{path}: HTTP {status} (expected 404), {body[:80]!r}")
        detail.append("11 paths: 404")
        try:  # libwebsockets drops the connection on a NUL in the path
            status, _, _ = request(server, "/api/client.js%00.png", AUTH)
            require(status == 404, f"/api/client.js%00.png: HTTP {status}")
        except http.client.RemoteDisconnected:
            detail.append("%00: connection closed")
    with results.check("static/redirect"):
        status, headers, _ = request(server, "/admin/", AUTH)
        require(status == 301 and headers.get("location") == "../admin",
                f"HTTP {status}, location {headers.get('location')!r}")


def case_admin(server: Server, results: Results) -> None:
    for path in ("/admin", "/admin/sessions", "/admin/admin.js"):
        for name, headers in (("none", {}),
                              ("wrong-password", {"Authorization": basic(USER, PASSWORD + "x")}),
                              ("wrong-user", {"Authorization": basic(USER + "x", PASSWORD)}),
                              ("empty-password", {"Authorization": basic(USER, "")}),
                              ("not-base64", {"Authorization": "Basic !!!"}),
                              ("no-colon", {"Authorization": "Basic " +
                                            base64.b64encode(USER.encode()).decode()}),
                              ("bearer", {"Authorization": "Bearer " + PASSWORD})):
            with results.check(f"admin/401-{name}{path.replace('/admin', '') or '/page'}"):
                status, hdrs, body = request_patiently(server, path, headers)
                require(status == 401, f"HTTP {status} (expected 401)")
                require(re.match(r'Basic realm="[^"]+"', hdrs.get("www-authenticate", "")),
                        f"WWW-Authenticate {hdrs.get('www-authenticate')!r}")
                require(b"<table" not in body and b"<html" not in body.lower(),
                        "the page leaked with a 401")
    with results.check("admin/log-escaped"):
        # libwebsockets decodes %1b (ESC, a terminal escape) into the path
        status, _, _ = request(server, "/admin/x%1b[2J%07y")
        require(status == 401, f"HTTP {status}")
        time.sleep(0.2)
        with open(server.log_path, "rb") as f:
            text = f.read()
        require(b"\x1b" not in text and b"\x07" not in text,
                "a refused path wrote raw control characters into the log")
    with results.check("admin/200"):
        status, _, body = request_patiently(server, "/admin", AUTH)
        require(status == 200 and b"api/client.js" in body, f"HTTP {status}")
        status, _, _ = request(server, "/admin/sessions", AUTH)
        require(status == 200, f"/admin/sessions: HTTP {status}")
    with results.check("admin/rate-limit", detail := []):
        # Distinct wrong passwords, each a PBKDF2 run (~10 ms at 20000
        # iterations): past 250 ms of them in a second, 429 without running it.
        seen = {}
        time.sleep(1.05)  # a second of its own: its first check runs
        t0 = time.monotonic()
        for i in range(80):
            status, hdrs, _ = request(server, "/admin", {"Authorization": basic(USER, f"guess{i}")})
            seen[status] = seen.get(status, 0) + 1
            if status == 429:
                require(hdrs.get("retry-after") == "1", f"429 with Retry-After {hdrs.get('retry-after')!r}")
        took = time.monotonic() - t0
        require(set(seen) <= {401, 429} and seen.get(429, 0) > 0 and seen.get(401, 0) > 0,
                f"answers {seen} in {took:.2f} s (expected 401s, then 429s)")
        time.sleep(1.1)
        # a header not verified before ("basic" in lower case): a fresh PBKDF2 run
        status, _, _ = request(server, "/admin", {"Authorization": "basic" + AUTH["Authorization"][5:]})
        require(status == 200, f"the right password after the flood: HTTP {status}")
        detail.append(f"{seen} in {took:.2f} s; the right password 1 s later: 200")


async def case_sessions(server: Server, results: Results, workdir: str) -> None:
    client = rc.RecorderClient(server.ws_url, name="listed")
    try:
        with results.check("sessions/websocket-public"):
            await start_connected(client)  # no credentials on the websocket
        await hold_until(client, 1.5)
        with results.check("sessions/json", detail := []):
            status, headers, body = await arequest(server, "/admin/sessions",
                                                   dict(AUTH, Accept="application/json"))
            require(status == 200 and headers.get("content-type") == "application/json",
                    f"HTTP {status}, content-type {headers.get('content-type')!r}")
            sessions = json.loads(body)["sessions"]
            require(len(sessions) == 1, f"{len(sessions)} sessions listed: {sessions}")
            s = sessions[0]
            # (the client's address:port: aiortc's websocket connects from the
            # namespace's own 10.77.0.1 or 10.77.0.2)
            host, _, port = s["client"].rpartition(":")
            require(host in (SERVER_IP, CLIENT_IP) and port.isdigit() and s["state"] == "recording" and
                    s["worker_pid"] > 0 and s["duration_s"] >= 1.0 and s["bytes"] > 0,
                    f"session {s}")
            ctl = await asyncio.get_running_loop().run_in_executor(None, run_ctl_sessions, server)
            require([c["id"] for c in ctl] == [s["id"]] and ctl[0]["key"] == s["key"],
                    f"webrtc-videoctl sessions says {ctl}")
            detail.append(f"{s['client']} {s['state']} {s['duration_s']:.1f} s "
                          f"{s['bytes']} B worker {s['worker_pid']}")
        with results.check("sessions/html"):
            status, headers, body = await arequest(server, "/admin/sessions", AUTH)
            text = body.decode()
            require(status == 200 and headers.get("content-type", "").startswith("text/html"),
                    f"HTTP {status}, content-type {headers.get('content-type')!r}")
            rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td>", text)
            require(len(rows) == 1 and rows[0][0] == str(s["id"]) and
                    rows[0][1] == s["client"] and rows[0][2] == "recording",
                    f"rows {rows} (expected session {s['id']} from {s['client']})")
        rec = await client.stop()
        with results.check("sessions/after-stop"):
            require(rec.key, "no recording")
            status, _, body = await arequest(server, "/admin/sessions",
                                             dict(AUTH, Accept="application/json"))
            require(status == 200 and json.loads(body)["sessions"] == [],
                    f"HTTP {status}, {body[:200]!r}")
    finally:
        await client.close()


def run_ctl(server: Server, command: str):
    ctl = os.path.join(os.path.dirname(server.master), "ctl", "webrtc-videoctl")
    out = subprocess.run([ctl, "-s", server.control_socket, "--json", command],
                         capture_output=True, text=True, timeout=5)
    return json.loads(out.stdout)


def run_ctl_sessions(server: Server):
    return run_ctl(server, "sessions")["sessions"]


def case_reload(server: Server, results: Results, conf: str) -> None:
    """New credentials in the config file need a restart, and say so; the
    running server keeps the old ones."""
    with open(conf, "w") as f:
        f.write(f"[admin]\nauth = {USER}:{pbkdf2_hash(PASSWORD + 'new')}\n[http]\nstatic-dir = {WWW}\n")
    with results.check("reload/restart-needed"):
        data = run_ctl(server, "reload")
        require("admin-auth" in data.get("restart_needed", []) and
                "static-dir" not in data.get("restart_needed", []),
                f"reload answered {data}")
        status, _, _ = request(server, "/admin", AUTH)
        require(status == 200, f"the credentials it started with: HTTP {status}")


def case_none(args, results: Results, workdir: str) -> None:
    bare = Server(args.master, args.worker, os.path.join(workdir, "bare"),
                  ["--static-dir", WWW])
    os.makedirs(os.path.join(workdir, "bare"), exist_ok=True)
    try:
        bare.start()
        for path in ("/admin", "/admin/sessions", "/admin/admin.js"):
            with results.check(f"none/404{path.replace('/admin', '') or '/page'}"):
                status, _, _ = request(bare, path, AUTH)
                require(status == 404, f"HTTP {status} (expected 404: no credentials configured)")
        with results.check("none/client-js"):
            status, _, _ = request(bare, "/api/client.js")
            require(status == 200, f"HTTP {status}")
    finally:
        bare.stop()
    for name, value, mention in (("none/bad-hash", f"{USER}:pbkdf2:sha256:1000$salt", "hash"),
                                 ("none/no-password", f"{USER}:", "USER:PASSWORD"),
                                 ("none/no-user", f":{PASSWORD}", "USER:PASSWORD")):
        with results.check(name):
            r = run_master(bare, "--admin-auth", value, "--control-socket", "")
            require(r.returncode == 2 and mention in r.stderr,
                    f"status {r.returncode} (expected 2), stderr {r.stderr[-300:]!r}")
    # A plain password is a secret: read whole, a ';' in it is no list separator.
    semi = os.path.join(workdir, "semicolon.conf")
    with open(semi, "w") as f:
        f.write(f"[admin]\nauth = {USER}:{PASSWORD};x\n[http]\nstatic-dir = {WWW}\n")
    os.makedirs(os.path.join(workdir, "semi"), exist_ok=True)
    plain = Server(args.master, args.worker, os.path.join(workdir, "semi"), ["--config", semi])
    with results.check("none/password-with-semicolon"):
        try:
            plain.start()
            status, _, _ = request(plain, "/admin", {"Authorization": basic(USER, PASSWORD + ";x")})
            require(status == 200, f"HTTP {status} with the password the config file gives")
        finally:
            plain.stop()
    with results.check("none/missing-static-dir"):
        r = run_master(bare, "--static-dir", os.path.join(workdir, "nowhere"),
                       "--control-socket", "", "--storage-dir", os.path.join(workdir, "s"))
        require(r.returncode != 0 and "nowhere" in r.stderr,
                f"status {r.returncode}, stderr {r.stderr[-300:]!r}")


async def run(args, workdir: str) -> int:
    rc.restrict_ice_addresses([CLIENT_IP])
    conf = os.path.join(workdir, "admin.conf")
    with open(conf, "w") as f:
        f.write(f"[admin]\nauth = {USER}:{pbkdf2_hash(PASSWORD)}\n[http]\nstatic-dir = {WWW}\n")
    server = Server(args.master, args.worker, workdir, ["--config", conf])
    try:
        server.start()
    except (RuntimeError, OSError) as e:
        print(f"FAIL server-start: {e}", flush=True)
        return 2
    results = Results(server)
    t0 = time.monotonic()
    try:
        case_static(server, results)
        case_admin(server, results)
        await asyncio.wait_for(case_sessions(server, results, workdir), 60)
        case_none(args, results, workdir)
        case_reload(server, results, conf)
    except Exception as e:  # a bug here: still a failure, never a pass
        results.fail("www", f"unexpected {type(e).__name__}: {e}")
    finally:
        server.stop()
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed in "
          f"{time.monotonic() - t0:.1f} s" +
          (": " + ", ".join(results.failed) if results.failed else ""), flush=True)
    return 1 if results.failed else 0


def main() -> int:
    p = argparse.ArgumentParser(description="webrtc-video's static files and admin pages.")
    p.add_argument("--master", required=True)
    p.add_argument("--worker")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    status = enter_test_namespace(__file__)
    if status:
        return status
    args.master = os.path.abspath(args.master)
    args.worker = os.path.abspath(args.worker) if args.worker else None
    return run_in_workdir("wv-www-", lambda workdir: run(args, workdir), args.keep)


if __name__ == "__main__":
    sys.exit(main())
