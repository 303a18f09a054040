#!/usr/bin/python3
"""tests/package/test_package.py - the Debian package, built and used.

1. build     packaging/build-deb into a temporary directory (the unit tests
             are skipped there, DEB_BUILD_OPTIONS=nocheck: the suite runs
             them anyway)
2. lintian   on the .changes: no error (its whole output is printed)
3. layout    `dpkg-deb -x` into a scratch root: the daemon, the worker where
             the daemon looks for it (its compiled-in path), webrtc-videoctl,
             both manuals, the unit, the sysusers file, the config as a
             conffile, the GStreamer plugin packages in Depends, and every
             file `meson install` installs (meson introspect, prefix mapped
             to the package's /usr and /etc)
4. smoke     the extracted daemon with the packaged config (storage, spool,
             control socket, listen address and worker path redirected to
             the scratch root and temp dirs): /ping answers, its workers
             start, webrtc-videoctl answers, SIGTERM exits 0
5. verify    `systemd-analyze verify` accepts the extracted unit (its
             Exec paths rewritten into the scratch root)
6. systemd   tests/package/systemd_verify.py: the .deb installed with dpkg
             in a throw-away system booted by a real systemd, a recording
             through the running service, reload, a stop that drains

    /usr/bin/python3 tests/package/test_package.py --build-dir build [--keep]

Every check prints `ok NAME` or `FAIL NAME: reason`; exit status 1 if any
failed, 77 (skipped) when not root (dpkg-buildpackage, namespaces).
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from harness import Results, free_port, require  # noqa: E402

WORKER = "/usr/libexec/webrtc-video/webrtc-video-worker"
CONFIG = "/etc/webrtc-video/webrtc-video.conf"
UNIT = "/lib/systemd/system/webrtc-video.service"
EXPECTED = ["/usr/bin/webrtc-video", "/usr/bin/webrtc-videoctl", WORKER, CONFIG, UNIT,
            "/usr/lib/sysusers.d/webrtc-video.conf", "/usr/share/man/man8/webrtc-video.8.gz",
            "/usr/share/man/man1/webrtc-videoctl.1.gz",
            "/usr/share/doc/webrtc-video/copyright"]
RUNTIME_DEPENDS = ["gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good",
                   "gstreamer1.0-plugins-bad", "gstreamer1.0-nice"]


def run(*argv: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def build(out: str) -> str:
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
    r = run(os.path.join(TOP, "packaging", "build-deb"), out, env=env)
    require(r.returncode == 0, f"build-deb: exit {r.returncode}:\n{(r.stdout + r.stderr)[-3000:]}")
    debs = [f for f in os.listdir(out) if f.startswith("webrtc-video_") and f.endswith(".deb")]
    require(len(debs) == 1, f"build-deb made {debs}")
    warnings = [line for line in (r.stdout + r.stderr).splitlines() if "warning:" in line]
    for line in warnings:
        print("    | " + line, flush=True)
    return os.path.join(out, debs[0])


def lintian(out: str) -> str:
    changes = [f for f in os.listdir(out) if f.endswith(".changes")]
    require(len(changes) == 1, f"no single .changes in {out}: {changes}")
    r = run("lintian", "--display-info", "--pedantic", "--fail-on", "error",
            os.path.join(out, changes[0]))
    lines = [line for line in (r.stdout + r.stderr).splitlines()
             if line and not line.startswith("running with root privileges")]
    for line in lines:
        print("    | lintian: " + line, flush=True)
    errors = [line for line in lines if line.startswith("E:")]
    require(not errors and r.returncode == 0, f"lintian: exit {r.returncode}, "
            f"{len(errors)} error(s)")
    counts = {k: sum(1 for line in lines if line.startswith(k + ":")) for k in "EWIP"}
    return f"lintian: {counts['E']} errors, {counts['W']} warnings, {counts['I']} info, " \
           f"{counts['P']} pedantic"


def meson_installed(build_dir: str) -> List[str]:
    """What `meson install` installs, as the package's paths."""
    r = run("meson", "introspect", build_dir, "--installed", "--buildoptions")
    require(r.returncode == 0, f"meson introspect: {r.stderr.strip()}")
    doc = json.loads(r.stdout)
    installed = doc["installed"]
    opt = {o["name"]: o["value"] for o in doc["buildoptions"]}
    prefix = opt["prefix"]
    sysconf = opt["sysconfdir"] if opt["sysconfdir"].startswith("/") \
        else os.path.join(prefix, opt["sysconfdir"])
    paths = []
    for dest in installed.values():
        if dest.startswith(sysconf + "/"):
            dest = "/etc" + dest[len(sysconf):]
        elif dest.startswith(prefix + "/"):
            dest = "/usr" + dest[len(prefix):]
        paths.append(dest)
    return paths


def layout(deb: str, root: str, build_dir: str) -> str:
    r = run("dpkg-deb", "-x", deb, root)
    require(r.returncode == 0, f"dpkg-deb -x: {r.stderr.strip()}")
    missing = [p for p in EXPECTED if not os.path.isfile(root + p)]
    require(not missing, f"not in the package: {missing}")
    for exe in ("/usr/bin/webrtc-video", "/usr/bin/webrtc-videoctl", WORKER):
        require(os.access(root + exe, os.X_OK), f"{exe} is not executable")
    with open(root + "/usr/bin/webrtc-video", "rb") as f:
        daemon = f.read()
    require(WORKER.encode() + b"\0" in daemon,
            f"the daemon's compiled-in worker path is not {WORKER}")
    for p in meson_installed(build_dir):
        require(os.path.exists(root + p) or os.path.exists(root + p + ".gz"),
                f"meson installs {p}, the package does not")
    conffiles = run("dpkg-deb", "--info", deb, "conffiles").stdout.split()
    require(conffiles == [CONFIG], f"conffiles {conffiles}, expected [{CONFIG}]")
    depends = run("dpkg-deb", "--field", deb, "Depends").stdout
    names = [d.strip().split()[0] for d in depends.replace("|", ",").split(",") if d.strip()]
    lacking = [p for p in RUNTIME_DEPENDS if p not in names]
    require(not lacking, f"Depends lacks {lacking}: {depends.strip()}")
    with open(root + UNIT) as f:
        unit = f.read()
    require("ExecStart=/usr/bin/webrtc-video --config /etc/webrtc-video/webrtc-video.conf"
            in unit, "the unit's ExecStart does not run the packaged daemon and config")
    with open(root + "/usr/lib/sysusers.d/webrtc-video.conf") as f:
        require(any(line.split()[:2] == ["u", "webrtc-video"] for line in f if line.strip()),
                "the sysusers file does not create the webrtc-video user")
    with open(root + CONFIG) as f:
        conf = f.read()
    for d in ("/var/lib/webrtc-video/recordings", "/var/lib/webrtc-video/spool"):
        require(d in conf, f"the packaged config does not use {d} (StateDirectory)")
    return f"{len(EXPECTED)} paths, conffile, Depends, compiled-in worker path"


def smoke(root: str, tmp: str) -> str:
    port = free_port()
    sock = os.path.join(tmp, "run", "control.sock")
    log_path = os.path.join(tmp, "daemon.log")
    cmd = [root + "/usr/bin/webrtc-video", "--config", root + CONFIG,
           "--listen", f"127.0.0.1:{port}", "--storage-dir", os.path.join(tmp, "recordings"),
           "--spool-dir", os.path.join(tmp, "spool"), "--worker-path", root + WORKER,
           "--control-socket", sock, "--min-spare", "1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        body, deadline = b"", time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as r:
                    body = r.read()
                    break
            time.sleep(0.1)
        require(body == b"pong", f"/ping answered {body!r}; exit {proc.poll()}")
        idle, deadline = 0, time.monotonic() + 20
        while time.monotonic() < deadline and not idle:
            r = run(root + "/usr/bin/webrtc-videoctl", "-s", sock, "--json", "status",
                    timeout=10)
            require(r.returncode == 0, f"webrtc-videoctl status: exit {r.returncode}: "
                    f"{r.stderr.strip()}")
            idle = json.loads(r.stdout)["workers"]["idle"]
            time.sleep(0.2)
        require(idle >= 1, "no worker became idle: the packaged worker does not start")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        require(code == 0, f"exit status {code} after SIGTERM")
        return f"/ping pong, {idle} idle worker(s), SIGTERM -> exit 0"
    except Exception:
        with open(log_path, "rb") as f:
            for line in f.read().decode(errors="replace").splitlines()[-15:]:
                print("    | " + line, flush=True)
        raise
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def verify_unit(root: str, tmp: str) -> str:
    os.makedirs(os.path.join(tmp, "unit"))
    unit = os.path.join(tmp, "unit", "webrtc-video.service")
    with open(root + UNIT) as src, open(unit, "w") as dst:
        dst.write(src.read().replace("=/usr/bin/", f"={root}/usr/bin/"))
    env = dict(os.environ, MANPATH=root + "/usr/share/man")
    r = run("systemd-analyze", "verify", unit, env=env, timeout=60)
    out = (r.stdout + r.stderr).strip()
    require(r.returncode == 0 and not out, f"systemd-analyze verify: exit {r.returncode}: {out}")
    return "systemd-analyze verify: no complaint (Exec paths and man pages checked)"


def main() -> int:
    p = argparse.ArgumentParser(description="Build, lint and try the Debian package.")
    p.add_argument("--build-dir", default=os.path.join(TOP, "build"),
                   help="a configured meson build directory (for meson introspect)")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("skipped: must run as root (namespaces, a booted systemd)", file=sys.stderr)
        return 77
    tmp = tempfile.mkdtemp(prefix="wv-package-")
    out, root = os.path.join(tmp, "out"), os.path.join(tmp, "root")
    results = Results(timed=True)
    t0 = time.monotonic()
    deb = None
    with results.check("package/build", detail := []):
        deb = build(out)
        detail.append(os.path.basename(deb))
    if deb:
        with results.check("package/lintian", detail := []):
            detail.append(lintian(out))
        with results.check("package/layout", detail := []):
            detail.append(layout(deb, root, os.path.abspath(args.build_dir)))
        if "package/layout" in results.passed:
            with results.check("package/smoke", detail := []):
                detail.append(smoke(root, tmp))
            with results.check("package/systemd-analyze-verify", detail := []):
                detail.append(verify_unit(root, tmp))
        with results.check("package/systemd", detail := []):
            r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "systemd_verify.py"),
                                "--deb", deb], stdin=subprocess.DEVNULL, timeout=300)
            require(r.returncode == 0, f"systemd_verify.py: exit {r.returncode}")
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed in "
          f"{time.monotonic() - t0:.1f} s" + (": " + ", ".join(results.failed)
                                               if results.failed else ""), flush=True)
    if results.failed or args.keep:
        print(f"# kept {tmp}", flush=True)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
