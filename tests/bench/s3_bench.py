"""tests/bench/s3_bench.py - S3 storage figures, measured (docs/benchmarks.md).

Run as root (it makes its own network namespace) after building:

    tests/lib/netns.sh /usr/bin/python3 tests/bench/s3_bench.py [--build build]
        [--sessions 10] [--seconds 10] [--long-seconds 600] [--bitrate 2500000]

S3 is s3rver (npm, tests/s3) on 127.0.0.1, addressed directly (no proxy).
It starts the real server from the build tree with `--s3-bucket` and reports:

1. stop -> uploadSuccess for `--sessions` sequential recordings of
   `--seconds` each (aiortc VP8 + Opus; the video is noise at `--bitrate`, so
   the encoder spends all of it, like a busy camera): p50, p90, max, the
   recording sizes and how many parts were sent while recording.  The clock
   runs from sending `stop` to receiving `uploadSuccess` (the muxer
   finishing, the last parts, part 1, CompleteMultipartUpload, the proof).
2. The same for one recording of `--long-seconds` (0: skip).
3. Upload throughput and memory: a spooled file of `--file-mib` MiB is left
   in the spool with its sidecar, and a server started on it uploads it with
   `webrtc-video-worker --upload`; for part sizes 8 and 32 MiB the wall time
   from the child's start to the object's arrival, and the child's peak RSS
   (VmHWM), whose growth with the part size is the memory per in-flight part.

Output is plain text, one figure a line.
"""

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import recorder_client as rc  # noqa: E402
from harness import CLIENT_IP, SERVER_IP, free_port  # noqa: E402
from s3 import ACCESS_KEY, REGION, SECRET_KEY, S3rver, boto3_client  # noqa: E402

BUCKET = "bench"


class NoisyTrack(rc.SyntheticVideoTrack):
    """640x360 noise: an encoder target is met, not undershot."""

    def __init__(self):
        super().__init__()
        import numpy
        rng = numpy.random.default_rng(1)
        self._noise = [rng.integers(0, 256, (360 * 3 // 2, 640), dtype=numpy.uint8)
                       for _ in range(16)]

    def _draw(self, n: int):
        frame = self._noise[n % len(self._noise)].copy()
        frame[0:16, :] = (n * 7) & 0xFF
        return frame


def set_bitrate(bits: int, noise: bool) -> None:
    import aiortc.codecs.vpx as vpx
    vpx.DEFAULT_BITRATE = vpx.MIN_BITRATE = vpx.MAX_BITRATE = bits
    if noise:
        rc.SyntheticVideoTrack = NoisyTrack


class Server:
    def __init__(self, build: str, tmp: str, endpoint: str, *extra: str):
        self.port = free_port(SERVER_IP)
        self.storage = os.path.join(tmp, "storage")
        os.makedirs(tmp, exist_ok=True)
        self.log_path = os.path.join(tmp, "master.log")
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        self.proc = subprocess.Popen(
            [os.path.join(build, "master", "webrtc-video"), "--listen", f"{SERVER_IP}:{self.port}",
             "--storage-dir", self.storage, "--ice-address", SERVER_IP,
             "--control-socket", os.path.join(tmp, "control.sock"),
             "--s3-bucket", BUCKET, "--s3-region", REGION, "--s3-endpoint", endpoint,
             "--upload-timeout", "120", *extra],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if rc.http_get(f"http://{SERVER_IP}:{self.port}/ping", timeout=1)[0] == 200:
                    time.sleep(1.0)  # spare workers ready
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    @property
    def ws_url(self) -> str:
        return f"ws://{SERVER_IP}:{self.port}/api/recorder"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def one_recording(server: Server, seconds: float) -> dict:
    client = rc.RecorderClient(server.ws_url)
    await client.connect()
    await client.start()
    await client.wait_connected()
    await asyncio.sleep(seconds)
    t0 = time.monotonic()
    await client.send({"id": "stop"})
    msg = await client.expect("uploadSuccess", 300)
    ms = (time.monotonic() - t0) * 1000
    await client.close()
    return {"ms": ms, "key": msg["key"]}


def _stamp(line: str) -> float:
    """Seconds of the day of a log line's ISO timestamp."""
    t = line.split()[0]  # 2026-11-22T07:07:42.240Z
    h, m, sec = t[11:-1].split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def parts_while_recording(log_path: str, key: str) -> (int, int, float):
    """(parts sent while recording, bytes, ms the store took to answer
    CompleteMultipartUpload, 0 for a single PUT) from the worker's debug log."""
    text = open(log_path, errors="replace").read()
    early = len(re.findall(re.escape(key) + r" part \d+ \[\d+, \+\d+\) while recording", text))
    m = re.search(re.escape(key) + r" stored as \S+ \((\d+) bytes", text)
    complete_ms = 0.0
    lines = text.splitlines()
    start = [l for l in lines if f"{key}: completing" in l]
    end = [l for l in lines if f"{key} stored as" in l]
    if start and end:
        complete_ms = (_stamp(end[0]) - _stamp(start[0])) * 1000
    return early, int(m.group(1)) if m else 0, complete_ms


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def bench_stop_latency(args, store: S3rver, tmp: str, n: int, seconds: float, label: str):
    server = Server(args.build, tmp, store.endpoint, "--log-level", "debug")
    try:
        results = []
        for _ in range(n):
            r = await one_recording(server, seconds)
            r["early"], r["bytes"], r["complete_ms"] = parts_while_recording(server.log_path,
                                                                              r["key"])
            results.append(r)
            await asyncio.sleep(1.0)
    finally:
        server.stop()
    ms = [r["ms"] for r in results]
    sizes = [r["bytes"] / 1e6 for r in results]
    early = [r["early"] for r in results]
    print(f"stop->uploadSuccess, {label}, {n} recording(s) of {seconds:g} s "
          f"({statistics.mean(sizes):.1f} MB each, {min(early)}-{max(early)} parts sent while "
          f"recording): p50 {pct(ms, 0.5):.0f} ms, p90 {pct(ms, 0.9):.0f} ms, "
          f"max {max(ms):.0f} ms", flush=True)
    complete = [r["complete_ms"] for r in results if r["complete_ms"]]
    if complete:
        ours = [r["ms"] - r["complete_ms"] for r in results if r["complete_ms"]]
        print(f"  of which the store answering CompleteMultipartUpload: p50 "
              f"{pct(complete, 0.5):.0f} ms (s3rver copies every part into the object then); "
              f"the rest (muxer, last parts, part 1, proof): p50 {pct(ours, 0.5):.0f} ms",
              flush=True)


def write_spooled(spool: str, name: str, mib: int) -> str:
    os.makedirs(spool, exist_ok=True)
    path = os.path.join(spool, name)
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            block = os.urandom(1 << 20)
            h.update(block)
            f.write(block)
    with open(path + ".upload", "w") as f:
        f.write('{"key":"%s","bytes":%d,"attempts":1,"last_error":"bench","updated":0}'
                % (name, mib << 20))
    return h.hexdigest()


def peak_rss_kib(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def bench_throughput(args, store: S3rver, tmp: str, part_mib: int) -> None:
    name = f"bench-{part_mib}.webm"
    spool = os.path.join(tmp, "storage", ".spool")
    want = write_spooled(spool, name, args.file_mib)
    s3 = boto3_client(store.endpoint)
    server = Server(args.build, tmp, store.endpoint, "--s3-part-size", str(part_mib),
                    "--min-spare", "0", "--max-spare", "0")
    try:
        child, t0, peak = None, None, 0
        deadline = time.monotonic() + 300
        while os.path.exists(os.path.join(spool, name)) and time.monotonic() < deadline:
            if child is None:
                for pid in open(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read().split():
                    if b"--upload" in open(f"/proc/{pid}/cmdline", "rb").read():
                        child, t0 = int(pid), time.monotonic()
            if child:
                peak = max(peak, peak_rss_kib(child))
            time.sleep(0.005)
        wall = time.monotonic() - (t0 or time.monotonic())
    finally:
        server.stop()
    body = s3.get_object(Bucket=BUCKET, Key=name)["Body"].read()
    ok = hashlib.sha256(body).hexdigest() == want
    print(f"upload of a spooled {args.file_mib} MiB file, part size {part_mib} MiB, 2 parts in "
          f"flight: {wall:.2f} s from the upload process's start = "
          f"{args.file_mib / wall:.0f} MiB/s; upload process peak RSS {peak / 1024:.1f} MiB; "
          f"object {'byte-identical' if ok else 'DIFFERS'}", flush=True)
    return peak


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--long-seconds", type=float, default=600)
    ap.add_argument("--bitrate", type=int, default=2_500_000)
    ap.add_argument("--file-mib", type=int, default=256)
    ap.add_argument("--skip-recordings", action="store_true")
    ap.add_argument("--video", choices=("noise", "synthetic"), default="synthetic",
                    help="noise: 640x360 noise (~16 Mbit/s whatever the target); synthetic: "
                         "the tests' moving pattern at --bitrate")
    ap.add_argument("--keep", action="store_true", help="keep the logs")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    rc.restrict_ice_addresses([CLIENT_IP])
    set_bitrate(args.bitrate, args.video == "noise")
    print(f"machine: {os.cpu_count()} cores, {os.uname().release}; s3rver on 127.0.0.1; "
          f"video {args.video} at a {args.bitrate / 1e6:g} Mbit/s target + Opus", flush=True)
    tmp = tempfile.mkdtemp(prefix="wv-s3bench-")
    store = S3rver(bucket=BUCKET).start()
    try:
        if not args.skip_recordings:
            await bench_stop_latency(args, store, os.path.join(tmp, "short"), args.sessions,
                                     args.seconds, "short")
            if args.long_seconds:
                await bench_stop_latency(args, store, os.path.join(tmp, "long"), 1,
                                         args.long_seconds, "long")
        peaks = {}
        for part in (8, 32):
            peaks[part] = bench_throughput(args, store, os.path.join(tmp, f"tp{part}"), part)
        per_part = (peaks[32] - peaks[8]) / 1024 / (2 * (32 - 8))
        print(f"upload process memory: {peaks[8] / 1024:.1f} MiB peak RSS at 8 MiB parts, "
              f"{peaks[32] / 1024:.1f} MiB at 32 MiB parts: {per_part:.2f} MiB of RSS per MiB "
              f"of in-flight part (2 in flight)", flush=True)
    finally:
        store.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
