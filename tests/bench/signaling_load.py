#!/usr/bin/python3
"""tests/bench/signaling_load.py - load test of the rooms service (/videre).

Starts build/master/webrtc-video on a free port of 127.0.0.1, opens
--connections websockets (default 2000) in --rooms rooms (default 200, so 10
peers a room), has every peer broadcast --rate packets a second (default 1)
for --seconds (default 10), and reports the packets delivered a second, the
delivery latency (send -> every other peer of the room) p50/p90/p99, and the
master's RSS.  The clients run in --procs processes (default 4) so that
Python is not the only bottleneck; latency uses CLOCK_MONOTONIC, which all
processes share.  Not a meson test: run it by hand after building.

    /usr/bin/python3 tests/bench/signaling_load.py [--build build]
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 65536), hard))


def packet(event, user, room, payload):
    return json.dumps({"Header": {"Event": event, "UserId": user, "RoomId": room},
                       "Payload": payload})


async def peer(url, user, room, args, start_at, stats, ready):
    ws = await websockets.connect(url, max_size=None, max_queue=None)
    await ws.send(packet("connect", user, room, "{}"))
    ready.append(1)

    async def reader():
        try:
            async for text in ws:
                now = time.monotonic()
                m = json.loads(text)
                if m["Header"]["Event"] != "broadcast":
                    continue
                t0 = json.loads(m["Payload"])["t"]
                if t0 >= start_at:
                    stats["lat"].append(now - t0)
                    stats["n"] += 1
        except websockets.ConnectionClosed:
            stats["closed"] += 1

    task = asyncio.create_task(reader())
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    # spread the peers over the period
    await asyncio.sleep((hash(user) % 1000) / 1000.0 / args.rate)
    end = start_at + args.seconds
    period = 1.0 / args.rate
    nxt = time.monotonic()
    while time.monotonic() < end:
        await ws.send(packet("broadcast", user, room, json.dumps({"t": time.monotonic(),
                                                                   "pad": "x" * args.size})))
        stats["sent"] += 1
        nxt += period
        await asyncio.sleep(max(0.0, nxt - time.monotonic()))
    await asyncio.sleep(1.0)  # let the last deliveries arrive
    task.cancel()
    await ws.close()


def client_proc(url, users, args, start_at, out):
    raise_nofile()

    async def run():
        stats = {"lat": [], "n": 0, "sent": 0, "closed": 0}
        ready = []
        tasks = []
        for user, room in users:
            tasks.append(asyncio.create_task(peer(url, user, room, args, start_at, stats, ready)))
            await asyncio.sleep(0.001)
        await asyncio.gather(*tasks)
        return stats

    stats = asyncio.run(run())
    out.put(stats)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] * 1000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--rooms", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rate", type=float, default=1.0, help="broadcasts per peer per second")
    ap.add_argument("--size", type=int, default=200, help="payload padding, bytes")
    ap.add_argument("--procs", type=int, default=4)
    args = ap.parse_args()
    raise_nofile()

    tmp = tempfile.mkdtemp(prefix="wv-sigload-")
    port = free_port()
    log = open(os.path.join(tmp, "master.log"), "w")
    per_room = -(-args.connections // args.rooms)
    master = subprocess.Popen(
        [os.path.join(args.build, "master/webrtc-video"), "--listen", f"127.0.0.1:{port}",
         "--storage-dir", os.path.join(tmp, "rec"), "--min-spare", "0", "--max-spare", "0",
         "--worker-path", os.path.join(args.build, "worker/webrtc-video-worker"),
         "--room-size", str(max(2, per_room)), "--signaling-connections",
         str(args.connections + 10), "--log-level", "warn",
         "--control-socket", os.path.join(tmp, "control.sock")],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        rss0 = rss_kib(master.pid)
        cpu0 = cpu_seconds(master.pid)
        url = f"ws://127.0.0.1:{port}/videre"
        users = [(f"u{i}", f"room{i % args.rooms}") for i in range(args.connections)]
        setup = 2.0 + args.connections / 1000.0
        start_at = time.monotonic() + setup
        out = mp.Queue()
        procs = [mp.Process(target=client_proc,
                            args=(url, users[i::args.procs], args, start_at, out))
                 for i in range(args.procs)]
        for p in procs:
            p.start()
        time.sleep(max(0.0, start_at - time.monotonic()) + args.seconds / 2)
        counts = urllib.request.urlopen(f"http://127.0.0.1:{port}/signaling").read().decode()
        rss_mid = rss_kib(master.pid)
        results = [out.get(timeout=args.seconds + setup + 60) for _ in procs]
        cpu = cpu_seconds(master.pid) - cpu0
        for p in procs:
            p.join()
    finally:
        master.terminate()
        master.wait()
        log.close()
    lat = sorted(x for r in results for x in r["lat"])
    sent = sum(r["sent"] for r in results)
    delivered = sum(r["n"] for r in results)
    closed = sum(r["closed"] for r in results)
    fanout = per_room - 1
    print(f"machine: {os.cpu_count()} cores, {os.uname().release}")
    print(f"{args.connections} connections in {args.rooms} rooms ({per_room} a room), "
          f"{args.rate:g} broadcast/s per peer, {args.size} B padding, {args.seconds:g} s, "
          f"{args.procs} client processes")
    print("during the run /signaling: " + counts.replace("\n", " ").strip())
    print(f"broadcasts sent {sent} ({sent / args.seconds:.0f}/s); delivered {delivered} "
          f"({delivered / args.seconds:.0f}/s; expected {sent * fanout}, "
          f"{100.0 * delivered / max(1, sent * fanout):.2f}%); connections dropped {closed}")
    if lat:
        print(f"latency send -> delivered: p50 {pct(lat, 50):.2f} ms, p90 {pct(lat, 90):.2f} ms, "
              f"p99 {pct(lat, 99):.2f} ms, max {lat[-1] * 1000:.2f} ms")
    print(f"master RSS: {rss0 / 1024:.1f} MiB idle, {rss_mid / 1024:.1f} MiB during the run; "
          f"master CPU {cpu:.1f} s over the whole run (set-up, {args.seconds:g} s of load, "
          f"tear-down)")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
