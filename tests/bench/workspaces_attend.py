#!/usr/bin/python3
"""tests/bench/workspaces_attend.py - what an `attend` costs on /workspaces.

Starts build/master/webrtc-video on a free port of 127.0.0.1 with
[workspaces] pin-iterations = --iterations (default 20000, the default of the
config), creates a workspace with a PIN and one without, and times --n
(default 30) sequential `attend` round trips to each (a fresh connection
each, the connect excluded, 0.1 s apart to stay under the server's PIN-check
budget of 10 a second). The difference is the PBKDF2 check, which runs
on the master's core thread. Also reports the per-workspace wrong-PIN budget
and the server-wide PIN-check budget as measured: how many wrong PINs are
checked before the server refuses to check more. Not a meson test: run it by
hand after building.

    /usr/bin/python3 tests/bench/workspaces_attend.py [--build build] [--iterations N]
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "signaling"))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
from test_workspaces import SECRET, WsClient, create  # noqa: E402
from test_signaling import Server  # noqa: E402


async def attend_times(srv, owner, pin, n):
    times = []
    for i in range(n):
        a = await WsClient.open_ws(srv, f"a{i}")
        data = {"name": f"a{i}"}
        if pin:
            data["pin"] = pin
        t0 = time.perf_counter()
        await a.event("attend", data, token=owner.access)
        m = await a.recv(10)
        times.append(time.perf_counter() - t0)
        assert m["event"] == "attend", m
        a.token = m["token"]
        await owner.recv(10)  # the notice
        await a.event("leave")
        await a.recv(10)
        await owner.recv(10)
        await a.close()
        await asyncio.sleep(0.1)  # under the server's 10 PIN checks a second
    return times


async def main(args):
    tmp = tempfile.mkdtemp(prefix="wv-bench-ws-")
    conf = os.path.join(tmp, "ws.conf")
    with open(conf, "w") as f:
        f.write(f"[workspaces]\nsecret = {SECRET}\npin-iterations = {args.iterations}\n")
    srv = Server(os.path.join(args.build, "master/webrtc-video"),
                 os.path.join(args.build, "worker/webrtc-video-worker"), ("--config", conf))
    try:
        plain = await create(srv, "plain")
        pinned = await create(srv, "pinned", pin="482915")
        t_plain = await attend_times(srv, plain, None, args.n)
        t_pin = await attend_times(srv, pinned, "482915", args.n)
        ms = lambda xs: f"median {statistics.median(xs) * 1000:.2f} ms, max {max(xs) * 1000:.2f} ms"  # noqa: E731
        print(f"pin-iterations {args.iterations}, {args.n} attends each")
        print(f"attend without PIN: {ms(t_plain)}")
        print(f"attend with PIN:    {ms(t_pin)}")
        print(f"PBKDF2 check (difference of medians): "
              f"{(statistics.median(t_pin) - statistics.median(t_plain)) * 1000:.1f} ms")
        # wrong-PIN budget of one workspace (connections closed after 3 each)
        checked, refused = 0, 0
        for i in range(4):
            g = await WsClient.open_ws(srv, f"g{i}")
            for _ in range(3):
                await g.event("attend", {"pin": "000000"}, token=pinned.access)
                m = json.loads(await g.ws.recv())
                msg = m["data"]["message"]
                if "for this workspace" in msg:
                    refused += 1
                else:
                    checked += 1
            await g.ws.close()
        print(f"wrong PINs checked for one workspace before it refused: {checked} (then {refused} refused unchecked)")
    finally:
        srv.stop(keep=False)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "build"))
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("-n", type=int, default=30)
    asyncio.run(main(p.parse_args()))
