"""tests/lib/harness.py - what every test script that starts the server shares.

The test network's addresses (tests/lib/netns.sh), the failed-check exception
and `require`, a free port, whether we already run inside the namespace, and
how a script gets there.
"""

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Awaitable, Callable, List, Optional

SERVER_IP = "10.77.0.1"  # tv0, see tests/lib/netns.sh
CLIENT_IP = "10.77.0.2"  # tv1


class CaseFailed(Exception):
    """A check did not hold; the message says what was seen."""


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise CaseFailed(reason)


class Results:
    """Named checks: `with results.check(NAME, detail_list):` passes unless the
    block raises; text appended to detail_list is printed after `ok NAME`
    (after the time taken too when `timed`).  A FAIL line is followed by
    what tail() returns: a subclass's log lines worth seeing."""

    def __init__(self, timed: bool = False):
        self.failed: List[str] = []
        self.passed: List[str] = []
        self.timed = timed

    def tail(self) -> str:
        return ""

    @contextlib.contextmanager
    def check(self, name: str, detail: Optional[list] = None):
        t0 = time.monotonic()
        try:
            yield
        except Exception as e:  # one failed check, whatever raised
            self.failed.append(name)
            text = e if isinstance(e, CaseFailed) else f"{type(e).__name__}: {e}"
            print(f"FAIL {name}: {' '.join(str(text).split())}", flush=True)
            for line in self.tail().splitlines():
                print("    | " + line[:300], flush=True)
        else:
            self.passed.append(name)
            notes = ([f"{time.monotonic() - t0:.1f} s"] if self.timed else []) + (detail or [])
            print(f"ok {name}" + (f"  # {'; '.join(notes)}" if notes else ""), flush=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def in_test_namespace() -> bool:
    """Inside tests/lib/netns.sh: tv0 carries SERVER_IP and tv1 CLIENT_IP."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    found = set()
    for line in out.stdout.splitlines():
        bits = line.split()  # "3: tv0    inet 10.77.0.1/24 ..."
        if len(bits) >= 4 and bits[2] == "inet":
            found.add((bits[1], bits[3].split("/")[0]))
    return {("tv0", SERVER_IP), ("tv1", CLIENT_IP)} <= found


def enter_test_namespace(script: str, check: Optional[Callable[[], int]] = None) -> int:
    """Re-run `script` (with this process's arguments) inside the private
    network namespace of tests/lib/netns.sh unless already there.  Returns
    only when already inside (0), or with the exit status to end with: 77
    (skip: not root), 2 (the namespace came up without its addresses), or
    what `check` (the script's own requirements, tried once root is known)
    returned when not 0."""
    if in_test_namespace():
        return 0
    if os.geteuid() != 0:
        print("skipped: must run as root (inside tests/lib/netns.sh)", file=sys.stderr)
        return 77
    status = check() if check else 0
    if status:
        return status
    if os.environ.get("WV_E2E_REEXEC"):
        print("tests/lib/netns.sh did not set up tv0/tv1", file=sys.stderr)
        return 2
    os.environ["WV_E2E_REEXEC"] = "1"
    netns = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netns.sh")
    os.execv(netns, [netns, "/usr/bin/python3", os.path.abspath(script)] + sys.argv[1:])


def run_in_workdir(prefix: str, run: Callable[[str], Awaitable[int]], keep: bool,
                   kept_note: str = "") -> int:
    """asyncio.run(run(workdir)) in a fresh temporary directory; print the
    time taken; remove the directory after a pass unless `keep`, else say
    where it was kept."""
    workdir = tempfile.mkdtemp(prefix=prefix)
    t0 = time.monotonic()
    status = asyncio.run(run(workdir))
    print(f"# total {time.monotonic() - t0:.1f} s", flush=True)
    if status == 0 and not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"# kept {workdir}{kept_note}", flush=True)
    return status
