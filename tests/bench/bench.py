"""tests/bench/bench.py - webrtc-video's performance figures, measured.

Run (as root; it makes its own network namespace):

    tests/lib/netns.sh /usr/bin/python3 tests/bench/bench.py [--build build]

It starts the real server from the build tree inside the namespace and reports:

1. start -> startResponse latency over N sequential sessions with a warm pool
   (each session: a fresh websocket and a fresh aiortc offer; the clock runs
   from sending `start` to receiving `startResponse`; before each session the
   bench waits until /sessions is 0 and an idle worker is ready, i.e. "warm").
2. A recording worker's memory: PSS (proportional set size, from
   /proc/PID/smaps_rollup) of the worker serving a live VP8+Opus 640x360
   session, sampled every 0.5 s over 10 s; the peak is reported.
3. The master's RSS and PSS holding 1000 idle websocket connections to
   /api/recorder, after the connections are open and idle for 2 s.

Output is plain text, one figure a line, for docs/benchmarks.md.
"""

import argparse
import asyncio
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import websockets  # noqa: E402
from recorder_client import RecorderClient, http_get, restrict_ice_addresses  # noqa: E402

PORT = 18090


def memory_kib(pid: int, field: str, path: str) -> int:
    with open(f"/proc/{pid}/{path}") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/{path}")


def idle_workers(master_pid: int, log_path: str) -> int:
    """Children of the master that are ready (said hello) and hold no session."""
    kids = set(open(f"/proc/{master_pid}/task/{master_pid}/children").read().split())
    log = open(log_path).read()
    ready = set(re.findall(r"worker (\d+) ready", log))
    busy = set(re.findall(r"worker (\d+), key", log))
    return len((kids & ready) - busy)


async def wait_warm(base: str, master_pid: int, log_path: str, spare: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, body = http_get(base + "/sessions")
        if status == 200 and body.strip() == b"0" and idle_workers(master_pid, log_path) >= spare:
            await asyncio.sleep(0.3)  # let fresh workers finish pre-building
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the pool did not warm up")


async def bench_latency(ws_url: str, base: str, master_pid: int, log_path: str, n: int) -> list:
    samples = []
    for i in range(n):
        await wait_warm(base, master_pid, log_path, 2)
        client = RecorderClient(ws_url, name=f"lat{i}")
        await client.connect()
        await client.make_offer()
        t0 = time.perf_counter()
        await client.send({"id": "start", "sdpOffer": client.offer_sdp})
        await client.expect("startResponse", 10)
        samples.append((time.perf_counter() - t0) * 1000)
        await client.close()
    return samples


async def bench_worker_memory(ws_url: str, log_path: str) -> dict:
    async with RecorderClient(ws_url, name="mem") as client:
        await client.start()
        await client.wait_connected()
        pids = re.findall(r"worker (\d+), key", open(log_path).read())
        pid = int(pids[-1])
        peak_pss = peak_rss = 0
        for _ in range(20):
            await asyncio.sleep(0.5)
            peak_pss = max(peak_pss, memory_kib(pid, "Pss", "smaps_rollup"))
            peak_rss = max(peak_rss, memory_kib(pid, "VmRSS", "status"))
        rec = await client.stop()
    return {"pss": peak_pss, "rss": peak_rss, "key": rec.key}


async def bench_idle_connections(ws_url: str, master_pid: int, n: int) -> dict:
    before_rss = memory_kib(master_pid, "VmRSS", "status")
    conns = []
    for _ in range(n):
        conns.append(await websockets.connect(ws_url, compression=None))
    await asyncio.sleep(2)
    open_ok = sum(1 for c in conns if c.open)
    rss = memory_kib(master_pid, "VmRSS", "status")
    pss = memory_kib(master_pid, "Pss", "smaps_rollup")
    await asyncio.gather(*(c.close() for c in conns))
    return {"before_rss": before_rss, "rss": rss, "pss": pss, "open": open_ok}


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--connections", type=int, default=1000)
    args = ap.parse_args()

    server_ip = os.environ.get("NETNS_SERVER_IP")
    client_ip = os.environ.get("NETNS_CLIENT_IP")
    if not server_ip:
        print("run me through tests/lib/netns.sh", file=sys.stderr)
        return 2
    restrict_ice_addresses([client_ip])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    tmp = tempfile.mkdtemp(prefix="wv-bench-")
    log_path = os.path.join(tmp, "master.log")
    master = subprocess.Popen(
        [os.path.join(args.build, "master", "webrtc-video"), "--listen", f"{server_ip}:{PORT}",
         "--storage-dir", os.path.join(tmp, "rec"), "--ice-address", server_ip,
         "--min-spare", "2", "--max-spare", "4", "--log-level", "debug",
         "--control-socket", os.path.join(tmp, "control.sock")],
        stderr=open(log_path, "w"))
    base = f"http://{server_ip}:{PORT}"
    ws_url = f"ws://{server_ip}:{PORT}/api/recorder"
    try:
        for _ in range(100):
            try:
                if http_get(base + "/ping")[0] == 200:
                    break
            except OSError:
                pass
            await asyncio.sleep(0.05)
        lat = await bench_latency(ws_url, base, master.pid, log_path, args.sessions)
        mem = await bench_worker_memory(ws_url, log_path)
        await wait_warm(base, master.pid, log_path, 2)
        idle = await bench_idle_connections(ws_url, master.pid, args.connections)
    finally:
        master.terminate()
        master.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine: {os.cpu_count()} cores, {os.uname().release}")
    print(f"start->startResponse over {len(lat)} sequential sessions (warm pool): "
          f"p50 {pct(lat, 50):.1f} ms, p90 {pct(lat, 90):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
          f"min {min(lat):.1f} ms, max {max(lat):.1f} ms, mean {statistics.mean(lat):.1f} ms")
    print(f"recording worker (VP8 640x360 + Opus, 10 s): peak PSS {mem['pss'] / 1024:.1f} MiB, "
          f"peak RSS {mem['rss'] / 1024:.1f} MiB")
    print(f"master with {idle['open']} idle websocket connections: RSS {idle['rss'] / 1024:.1f} MiB "
          f"(PSS {idle['pss'] / 1024:.1f} MiB; {idle['before_rss'] / 1024:.1f} MiB RSS before)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
