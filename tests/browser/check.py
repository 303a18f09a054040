#!/usr/bin/python3
"""tests/browser/check.py - judge what record.mjs got from a real browser.

    /usr/bin/python3 tests/browser/check.py DIR/BROWSER-CASE.json...

For each case file written by record.mjs: the session must have ended in
uploadSuccess; the file at videoUrl is downloaded next to the JSON and judged
by tests/lib/recorder_client.py's check_recording() (ffprobe with every frame
decoded: one video and one Opus 48 kHz audio stream, 640x360, enough frames,
frames that differ, duration within 1 s of the seconds the page recorded, no
decoder complaints). The case name says the video codec expected: `default`
(the browser's own codec order) must give VP8, other cases the codec they
forced. The browser's own getStats() must agree on the codec it sent.

Prints `ok BROWSER/CASE  # summary` or `FAIL BROWSER/CASE: reasons` per case,
with the offer's and the answer's codecs, and exits 1 if any case failed.
Run with /usr/bin/python3 (recorder_client imports aiortc, Debian's package).
"""

import json
import os
import re
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

import recorder_client as rc  # noqa: E402

EXPECTED = {"default": "vp8", "VP8": "vp8", "VP9": "vp9", "H264": "h264"}
EXTENSION = {"vp8": ".webm", "vp9": ".webm", "h264": ".mkv"}
TOLERANCE = 1.0  # seconds


def sdp_codecs(sdp):
    """[(media, mid, direction, [codec names in offer order], ice-ufrag)] per m-line,
    plus the session's BUNDLE group."""
    if not sdp:
        return [], None
    out, bundle, session_ufrag = [], None, None
    cur = None
    for line in sdp.splitlines():
        if line.startswith("m="):
            bits = line[2:].split()
            cur = {"media": bits[0], "port": bits[1], "pts": bits[3:], "names": {},
                   "mid": None, "dir": None, "ufrag": None}
            out.append(cur)
        elif line.startswith("a=group:BUNDLE"):
            bundle = line[len("a=group:BUNDLE"):].strip()
        elif line.startswith("a=ice-ufrag:") and cur is None:
            session_ufrag = line.split(":", 1)[1]
        elif cur is not None:
            m = re.match(r"a=rtpmap:(\d+) ([^/]+)/", line)
            if m:
                cur["names"][m.group(1)] = m.group(2)
            elif line.startswith("a=mid:"):
                cur["mid"] = line[6:]
            elif line.startswith("a=ice-ufrag:"):
                cur["ufrag"] = line.split(":", 1)[1]
            elif line[2:] in ("sendrecv", "sendonly", "recvonly", "inactive"):
                cur["dir"] = line[2:]
    for m in out:
        names = []
        for pt in m["pts"]:
            name = m["names"].get(pt, pt)
            if name not in names:
                names.append(name)
        m["codecs"] = names
        m["ufrag"] = m["ufrag"] or session_ufrag
    return out, bundle


def describe_sdp(sdp):
    mlines, bundle = sdp_codecs(sdp)
    parts = [f"{m['media']} mid={m['mid']} {m['dir']} port={m['port']} "
             f"[{' '.join(m['codecs'])}]" for m in mlines]
    return "; ".join(parts) + (f"; BUNDLE {bundle}" if bundle else "; no BUNDLE")


def download(url, dest):
    with urllib.request.urlopen(url, timeout=10) as resp:
        if resp.status != 200:
            raise rc.RecorderError(f"GET {url}: HTTP {resp.status}")
        with open(dest, "wb") as out:
            while True:
                chunk = resp.read(65536)
                if not chunk:
                    break
                out.write(chunk)


def check_case(path):
    """(name, problems, summary lines)"""
    with open(path) as f:
        res = json.load(f)
    name = f"{res.get('browser')}/{res.get('case')}"
    info = [f"browser: {res.get('browserVersion')} ({res.get('userAgent')})",
            f"offer:  {describe_sdp(res.get('offer'))}",
            f"answer: {describe_sdp(res.get('answer'))}"]
    if not res.get("ok"):
        return name, [res.get("error") or "no outcome"], info
    expected = EXPECTED.get(res.get("case"))
    if expected is None:
        return name, [f"unknown case {res.get('case')!r}"], info
    problems = []

    # What the browser says it sent.
    video_stats = (res.get("stats") or {}).get("video") or {}
    audio_stats = (res.get("stats") or {}).get("audio") or {}
    sent = (video_stats.get("codec") or "").lower()
    info.append(f"browser sent: video {video_stats.get('codec')} "
                f"{video_stats.get('frameWidth')}x{video_stats.get('frameHeight')} "
                f"{video_stats.get('framesEncoded')} frames ({video_stats.get('encoderImplementation')}), "
                f"audio {audio_stats.get('codec')}; pair {(res.get('stats') or {}).get('selectedPair')}")
    if sent != "video/" + expected:
        problems.append(f"the browser sent {video_stats.get('codec')}, expected video/{expected}")
    if (audio_stats.get("codec") or "").lower() != "audio/opus":
        problems.append(f"the browser sent audio {audio_stats.get('codec')}, expected audio/opus")

    # The file the server stored.
    key, url = res.get("key") or "", res.get("videoUrl") or ""
    if not key or not url.endswith("/" + key):
        problems.append(f"uploadSuccess videoUrl {url!r} does not end with key {key!r}")
        return name, problems, info
    if not key.endswith(EXTENSION[expected]):
        problems.append(f"key {key!r}: expected a {EXTENSION[expected]} file for {expected}")
    dest = os.path.join(os.path.dirname(path), f"{res.get('browser')}-{res.get('case')}-{key}")
    try:
        download(url, dest)
    except (OSError, rc.RecorderError) as e:
        problems.append(f"download {url}: {e}")
        return name, problems, info
    result = rc.check_recording(dest, video_codec=expected, seconds=res["seconds"],
                                tolerance=TOLERANCE)
    info.append(f"recorded {res['seconds']:.2f} s; ffprobe: {result.summary}")
    problems += result.problems
    return name, problems, info


def main(paths):
    if not paths:
        print("FAIL check: no case results (record.mjs wrote none)")
        return 1
    failed = 0
    for path in paths:
        try:
            name, problems, info = check_case(path)
        except (OSError, ValueError, KeyError) as e:
            name, problems, info = os.path.basename(path), [f"unreadable result: {e!r}"], []
        if problems:
            failed += 1
            print(f"FAIL {name}: " + "; ".join(problems), flush=True)
        else:
            print(f"ok {name}", flush=True)
        for line in info:
            print(f"    {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
