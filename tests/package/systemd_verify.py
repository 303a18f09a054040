#!/usr/bin/python3
"""tests/package/systemd_verify.py - the packaged unit under a real systemd.

PID 1 on this machine (and in CI containers) is not systemd, so this boots
one: Debian's /lib/systemd/system/systemd as PID 1 of a private PID and
mount namespace (`unshare --pid --mount --fork`, `container=` set), whose
root is a throw-away overlay of this machine's root (upper layer on tmpfs:
nothing it writes survives), inside the private network namespace of
tests/lib/netns.sh.  Units that would touch the host kernel (sysctl, kernel
modules, binfmt, udev, clock) are masked, /sys and /proc/sys are read-only,
and a container image's policy-rc.d (which forbids starting services) is
removed from the guest's view, as a real system has none.

In that system it installs the .deb with dpkg (postinst: systemd-sysusers
creates the user, the unit is enabled and started), waits for systemd to
see READY=1, then records a session through the running service with the
aiortc client (ffprobe checks the file, downloaded over HTTP, and its owner
and mode on disk), reloads (`systemctl reload`: ExecReload), reinstalls the
package with a session recording (the upgrade path: the server must not be
restarted, the session must finish and be stored), and stops the
service with a session in flight (`systemctl stop`: the drain, sd_notify's
STATUS, the session finishes, exit 0, Result=success).  It prints
`systemd-analyze security` and the unit's journal.

    tests/package/systemd_verify.py --deb OUT/webrtc-video_*_amd64.deb
        [--relax KEY=VALUE]...   add a drop-in overriding unit settings
        [--bisect]               if it fails, retry with each hardening
                                 option relaxed in turn and report which
                                 one breaks the recording

Every check prints `ok NAME` or `FAIL NAME: reason`; exit status 1 if any
failed, 2 on a setup error, 77 when not root.  Takes about 30 s.
"""

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
LIB = os.path.join(os.path.dirname(HERE), "lib")
sys.path.insert(0, LIB)

import harness  # noqa: E402
from harness import CLIENT_IP, SERVER_IP, CaseFailed, enter_test_namespace, require  # noqa: E402

UNIT = "webrtc-video.service"
PORT = 8080  # the packaged config's listen address
STOP_TIMEOUT_S = 2  # the stop-drains check's TimeoutStopSec= (a drop-in)

# Host-global state a booted systemd would change: masked in the guest.
MASKED = ["systemd-sysctl.service", "systemd-modules-load.service", "systemd-binfmt.service",
          "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
          "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-udev-settle.service",
          "systemd-timesyncd.service", "systemd-journald-audit.socket", "sys-kernel-debug.mount",
          "sys-kernel-tracing.mount", "sys-fs-fuse-connections.mount",
          "systemd-hwdb-update.service", "systemd-random-seed.service",
          "systemd-pstore.service", "cron.service", "ssh.service", "getty.target",
          "console-getty.service", "systemd-logind.service"]

# The hardening settings, and how --bisect relaxes each one.
RELAX = [("MemoryDenyWriteExecute", "no"), ("SystemCallFilter", ""),
         ("SystemCallArchitectures", ""), ("RestrictAddressFamilies", ""),
         ("RestrictNamespaces", "no"), ("ProtectSystem", "no"), ("ProtectHome", "no"),
         ("PrivateTmp", "no"), ("PrivateDevices", "no"), ("ProtectProc", "default"),
         ("ProcSubset", "all"), ("ProtectKernelTunables", "no"),
         ("ProtectKernelModules", "no"), ("ProtectKernelLogs", "no"),
         ("ProtectControlGroups", "no"), ("ProtectClock", "no"), ("ProtectHostname", "no"),
         ("LockPersonality", "no"), ("RestrictRealtime", "no"), ("RestrictSUIDSGID", "no"),
         ("NoNewPrivileges", "no"), ("CapabilityBoundingSet", "~"), ("RemoveIPC", "no"),
         ("UMask", "0022")]

BOOT = r"""
set -eu
d=$1
mount --make-rprivate /
mount -t tmpfs -o mode=0755 tmpfs "$d/ovl"
mkdir "$d/ovl/up" "$d/ovl/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/ovl/up,workdir=$d/ovl/work" "$d/root"
r=$d/root
mount --rbind /dev "$r/dev"
mount --rbind /sys "$r/sys"
mount -o remount,bind,ro "$r/sys"
mount -t proc proc "$r/proc"
mount --bind "$r/proc/sys" "$r/proc/sys"
mount -o remount,bind,ro "$r/proc/sys"
cp -a "$d/guest/." "$r/"
# a container image's "start no service" policy: not on a real system
rm -f "$r/usr/sbin/policy-rc.d"
exec env -i container=wv-verify PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    chroot "$r" /lib/systemd/systemd --unit=wv-verify.target
"""

TARGET = """[Unit]
Description=webrtc-video verification (tests/package/systemd_verify.py)
Requires=basic.target
After=basic.target
AllowIsolate=yes
"""


class Guest:
    """A systemd booted in private namespaces over an overlay of /."""

    def __init__(self, workdir: str, deb: str, relax: List[str]):
        self.dir = workdir
        for sub in ("ovl", "root", "guest/etc/systemd/system", "guest/root"):
            os.makedirs(os.path.join(workdir, sub), exist_ok=True)
        sysdir = os.path.join(workdir, "guest/etc/systemd/system")
        with open(os.path.join(sysdir, "wv-verify.target"), "w") as f:
            f.write(TARGET)
        for unit in MASKED:
            os.symlink("/dev/null", os.path.join(sysdir, unit))
        if relax:
            os.makedirs(os.path.join(sysdir, UNIT + ".d"))
            with open(os.path.join(sysdir, UNIT + ".d", "zz-relax.conf"), "w") as f:
                f.write("[Service]\n" + "".join(f"{r}\n" for r in relax))
        shutil.copy(deb, os.path.join(workdir, "guest/root/webrtc-video.deb"))
        self.log = open(os.path.join(workdir, "boot.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", BOOT, "sh",
             workdir], stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        self.pid1 = self._find_pid1()

    def _find_pid1(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                children = open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read()
                for pid in children.split():
                    if os.readlink(f"/proc/{pid}/exe").endswith("/systemd"):
                        return int(pid)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("systemd did not start: " + self.boot_log())

    def boot_log(self) -> str:
        with open(os.path.join(self.dir, "boot.log"), "rb") as f:
            return f.read().decode(errors="replace")[-2000:]

    def run(self, *argv: str, check: bool = False, timeout: float = 60,
            env: Optional[dict] = None) -> subprocess.CompletedProcess:
        cmd = ["nsenter", "-t", str(self.pid1), "-m", "-p", "-r", "-w", "env", "-i",
               "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=",
               "SYSTEMD_COLORS=0", *[f"{k}={v}" for k, v in (env or {}).items()], *argv]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise CaseFailed(f"{' '.join(argv)}: exit {r.returncode}: "
                             f"{(r.stdout + r.stderr).strip()[-800:]}")
        return r

    def show(self, prop: str) -> str:
        return self.run("systemctl", "show", "-P", prop, UNIT).stdout.strip()

    def path(self, p: str) -> str:
        return f"/proc/{self.pid1}/root{p}"

    def wait_booted(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running").stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.2)
        raise CaseFailed(f"the guest systemd did not finish booting: {state!r}")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid1, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


class Results(harness.Results):
    def __init__(self, guest: Optional[Guest] = None):
        super().__init__()
        self.guest = guest

    def tail(self) -> str:
        if not self.guest:
            return ""
        return self.guest.run("journalctl", "--no-pager", "-o", "cat", "-n", "15", "-u",
                              UNIT).stdout


async def wait_state(guest: Guest, want: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = guest.show("ActiveState")
        if state == want or (state == "failed" and want != "failed"):
            break
        await asyncio.sleep(0.1)
    return state


async def verify(args, workdir: str, relax: List[str]) -> Results:
    import recorder_client as rc  # needs aiortc: only inside the namespace
    rc.restrict_ice_addresses([CLIENT_IP])
    url = f"ws://{SERVER_IP}:{PORT}/api/recorder"
    guest = Guest(workdir, args.deb, relax)
    results = Results(guest)
    try:
        with results.check("boot", detail := []):
            detail.append(f"systemd {guest.wait_booted()}, pid {guest.pid1}")
        with results.check("install", detail := []):
            t0 = time.monotonic()
            guest.run("dpkg", "-i", "/root/webrtc-video.deb", check=True, timeout=120)
            t_dpkg = time.monotonic() - t0
            state = await wait_state(guest, "active", 30)
            require(state == "active", f"{UNIT} is {state} after dpkg -i: "
                    + guest.run("systemctl", "status", "--no-pager", UNIT).stdout[-1500:])
            user = guest.run("getent", "passwd", "webrtc-video", check=True).stdout.strip()
            started = int(guest.show("ExecMainStartTimestampMonotonic"))
            ready = int(guest.show("ActiveEnterTimestampMonotonic"))
            detail.append(f"dpkg -i {t_dpkg:.1f} s; READY {(ready - started) / 1e6:.2f} s after "
                          f"exec; {user}; status {guest.show('StatusText')!r}")
        with results.check("record", detail := []):
            dest = os.path.join(workdir, "recording.mkv")
            rec = await rc.record_session(url, args.seconds, dest)
            result = rc.check_recording(dest, seconds=rec.seconds_sent,
                                        frames_sent=rec.video_frames_sent)
            require(result.ok, "; ".join(result.problems) + f" [{result.summary}]")
            stored = guest.path(f"/var/lib/webrtc-video/recordings/{rec.key}")
            st = os.stat(stored)
            owner = guest.run("stat", "-c", "%U:%G %a", stored[len(guest.path("")):],
                              check=True).stdout.strip()
            require(owner.startswith("webrtc-video:webrtc-video"), f"stored file is {owner}")
            require(st.st_mode & 0o007 == 0, f"stored file is world-accessible: {owner}")
            detail.append(f"{result.summary}; on disk {owner}")
        with results.check("control-socket", detail := []):
            sock = guest.run("stat", "-c", "%U:%G %a", "/run/webrtc-video/control.sock",
                             check=True).stdout.strip()
            require(sock == "webrtc-video:webrtc-video 660", f"control.sock is {sock}")
            out = guest.run("webrtc-videoctl", "status", check=True).stdout
            require("draining" in out, f"webrtc-videoctl status: {out!r}")
            detail.append(f"control.sock {sock}; webrtc-videoctl status answers")
        with results.check("reload", detail := []):
            guest.run("systemctl", "reload", UNIT, check=True)
            state = guest.show("ActiveState")
            require(state == "active", f"after reload: {state}")
            j = guest.run("journalctl", "--no-pager", "-o", "cat", "-u", UNIT).stdout
            require("reload (the control socket)" in j, "no reload in the journal")
            detail.append("systemctl reload -> ExecReload (webrtc-videoctl reload) ok")
        with results.check("upgrade-keeps-sessions", detail := []):
            # dh_installsystemd --no-stop-on-upgrade: reinstalling the package
            # (prerm upgrade, postinst configure) leaves the server running.
            client = rc.RecorderClient(url, name="upgrade")
            try:
                await client.connect()
                await client.start()
                await client.wait_connected()
                pid = guest.show("MainPID")
                t0 = time.monotonic()
                # in a thread: the client's media must keep flowing meanwhile
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: guest.run("dpkg", "-i", "/root/webrtc-video.deb", check=True,
                                            timeout=120))
                took = time.monotonic() - t0
                require(guest.show("MainPID") == pid and guest.show("ActiveState") == "active",
                        f"the server was restarted by the upgrade (MainPID {pid} -> "
                        f"{guest.show('MainPID')}, {guest.show('ActiveState')})")
                status, body = await rc.async_http_get(f"http://{SERVER_IP}:{PORT}/sessions")
                require(body.strip() == b"1", f"/sessions {body!r} after the upgrade")
                rec = await client.stop()
                stored = guest.path(f"/var/lib/webrtc-video/recordings/{rec.key}")
                result = rc.check_recording(stored, seconds=rec.seconds_sent, strict=False,
                                            frames_sent=rec.video_frames_sent)
                require(result.ok, "; ".join(result.problems))
                detail.append(f"dpkg -i again ({took:.1f} s) with a session recording: same "
                              f"MainPID, session stored: {result.summary}")
            finally:
                with contextlib.suppress(Exception):
                    await client.close()
        with results.check("stop-drains", detail := []):
            # A stop timeout far shorter than the drain: only the master's
            # EXTEND_TIMEOUT_USEC keeps systemd from killing it.
            dropin = guest.path(f"/run/systemd/system/{UNIT}.d")
            os.makedirs(dropin, exist_ok=True)
            with open(os.path.join(dropin, "short-stop.conf"), "w") as f:
                f.write(f"[Service]\nTimeoutStopSec={STOP_TIMEOUT_S}\n")
            guest.run("systemctl", "daemon-reload", check=True)
            client = rc.RecorderClient(url, name="stop")
            try:
                await client.connect()
                await client.start()
                await client.wait_connected()
                await asyncio.sleep(1.5)
                guest.run("systemctl", "stop", "--no-block", UNIT, check=True)
                await asyncio.sleep(1.5)
                state, text = guest.show("ActiveState"), guest.show("StatusText")
                require(state == "deactivating", f"{state} during the drain")
                require("draining" in text, f"StatusText {text!r} during the drain")
                await asyncio.sleep(STOP_TIMEOUT_S * 2)
                state = guest.show("ActiveState")
                require(state == "deactivating", f"{state} {STOP_TIMEOUT_S * 2 + 1.5:.0f} s into "
                        f"the drain with TimeoutStopSec={STOP_TIMEOUT_S}: the stop timeout "
                        "was not extended")
                rec = await client.stop()
                state = await wait_state(guest, "inactive", 20)
                require(state == "inactive", f"{state} after the last session")
                res, code = guest.show("Result"), guest.show("ExecMainStatus")
                require(res == "success" and code == "0", f"Result={res} ExecMainStatus={code}")
                stored = guest.path(f"/var/lib/webrtc-video/recordings/{rec.key}")
                # the media is judged by "record"; this one only has to be whole
                result = rc.check_recording(stored, strict=False)
                require(result.ok, "; ".join(result.problems))
                detail.append(f"deactivating with StatusText {text!r}, still "
                              f"{STOP_TIMEOUT_S * 2 + 1.5:.0f} s in with TimeoutStopSec="
                              f"{STOP_TIMEOUT_S}; then inactive, Result=success, exit 0; "
                              f"{result.summary}")
            finally:
                with contextlib.suppress(Exception):
                    await client.close()
        if args.show:
            sec = guest.run("systemd-analyze", "security", "--no-pager", UNIT).stdout
            print("# systemd-analyze security " + UNIT)
            for line in sec.splitlines():
                print("#   " + line)
            j = guest.run("journalctl", "--no-pager", "-o", "short-monotonic", "-u", UNIT)
            print("# journalctl -u " + UNIT)
            for line in j.stdout.splitlines()[-40:]:
                print("#   " + line)
    finally:
        guest.stop()
    return results


async def run(args) -> int:
    base = tempfile.mkdtemp(prefix="wv-systemd-")
    t0 = time.monotonic()
    results = await verify(args, os.path.join(base, "full"), args.relax)
    print(f"# {len(results.passed)} passed, {len(results.failed)} failed in "
          f"{time.monotonic() - t0:.1f} s" + (": " + ", ".join(results.failed)
                                               if results.failed else ""), flush=True)
    if results.failed and args.bisect:
        args.show = False
        for key, value in RELAX:
            print(f"# bisect: {key}={value}", flush=True)
            r = await verify(args, os.path.join(base, f"relax-{key}"),
                             args.relax + [f"{key}={value}"])
            if not r.failed:
                print(f"# bisect: the unit works with {key}={value}: {key} breaks it",
                      flush=True)
    if not results.failed and not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"# kept {base}", flush=True)
    return 1 if results.failed else 0


def have_systemd() -> int:
    if not os.path.exists("/lib/systemd/systemd"):
        print("systemd (Debian package systemd) is not installed", file=sys.stderr)
        return 2
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description="The packaged unit under a real systemd.")
    p.add_argument("--deb", required=True, help="the webrtc-video .deb")
    p.add_argument("--relax", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--bisect", action="store_true")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--no-show", dest="show", action="store_false",
                   help="do not print systemd-analyze security and the journal")
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    args.deb = os.path.abspath(args.deb)
    status = enter_test_namespace(__file__, have_systemd)
    if status:
        return status
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
