#!/usr/bin/python3
"""tests/browser/check.py - judge what record.mjs got from a real browser.

    /usr/bin/python3 tests/browser/check.py DIR/BROWSER-CASE.json...

For each case file written by record.mjs: the session must have ended in
uploadSuccess; the file at videoUrl is downloaded next to the JSON and judged
by tests/lib/recorder_client.py's check_recording() (ffprobe with every frame
decoded: one video and one Opus 48 kHz audio stream, enough frames, frames
that differ, duration within 1 s of the seconds the page recorded, no decoder
complaints). The camera track must be 640x360; the encoder may send it scaled
down (Firefox starts at 320x180 and steps up), so the file must start with the
first size the browser's getStats() reported and hold no frame of a size the
browser never reported. The case name says the video codec expected: `default`
(the browser's own codec order) must give VP8, other cases the codec they
forced. The browser's own getStats() must agree on the codec it sent.

Prints `ok BROWSER/CASE  # summary` or `FAIL BROWSER/CASE: reasons` per case,
with the offer's and the answer's codecs, and exits 1 if any case failed.
Run with /usr/bin/python3 (recorder_client imports aiortc, Debian's package).
"""

import json
import os
import re
import struct
import subprocess
import sys
import urllib.request
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

import recorder_client as rc  # noqa: E402

EXPECTED = {"default": "vp8", "VP8": "vp8", "VP9": "vp9", "H264": "h264",
            "client": "vp8", "loopback": "vp8", "proxy": "vp8", "admin": "vp8"}
PROXY_PREFIX = "/wv/"  # run-browser.sh's nginx
MIN_LOOPBACK_FRAMES = 30  # decoded from the returned video while recording ~3 s
MIN_SCREENSHOT_COLOURS = 200  # the page with its videos ~1100; a blank one a few
MIN_VIDEO_COLOURS = 20  # a camera frame (Chromium's fake one is flat green with a clock) vs an empty box
EXTENSION = {"vp8": ".webm", "vp9": ".webm", "h264": ".mkv"}
TOLERANCE = 1.0  # seconds
track_size = (rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT)  # what recorder.html asks the camera for


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


def frame_sizes(path):
    """{"WxH": decoded video frames of that size}, in order of appearance."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=width,height", "-of", "csv=p=0", path],
        capture_output=True, text=True, timeout=60)
    sizes = {}
    for line in out.stdout.split():
        w, _, h = line.partition(",")
        sizes[f"{w}x{h.strip(',')}"] = sizes.get(f"{w}x{h.strip(',')}", 0) + 1
    return sizes


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


def png_colours(path, region=None):
    """Distinct pixel values of an 8-bit RGB(A) PNG, in `region` [x, y, w, h]
    or all of it (Python's zlib and struct: the filters of RFC 2083 undone
    row by row)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour_type = header[:4]
    if depth != 8 or colour_type not in (2, 6):
        raise ValueError(f"unexpected PNG format (depth {depth}, colour type {colour_type})")
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + a) & 255
            elif kind == 2:
                row[i] = (row[i] + b) & 255
            elif kind == 3:
                row[i] = (row[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if region is None:
            colours.update(bytes(row[i:i + bpp]) for i in range(0, stride, bpp))
        elif region[1] <= y < region[1] + region[3]:
            colours.update(bytes(row[i:i + bpp])
                           for i in range(region[0] * bpp, (region[0] + region[2]) * bpp, bpp))
        prev = row
    return len(colours)


def check_loopback(res, problems, info):
    """The video the server sent back kept decoding while recording."""
    samples = (res.get("loopback") or {}).get("samples") or []
    frames = [s.get("videoFrames", 0) for s in samples]
    info.append(f"loopback: video frames decoded {frames[:1] + frames[-1:]}, "
                f"audio packets {[s.get('audioPackets') for s in samples][-1:]}")
    if len(frames) < 2 or frames[-1] - frames[0] < MIN_LOOPBACK_FRAMES:
        problems.append(f"the returned video decoded {frames[-1] - frames[0] if frames else 0} "
                        f"frames while recording (samples {frames}), expected at least "
                        f"{MIN_LOOPBACK_FRAMES}")
    element = (res.get("loopback") or {}).get("element") or {}
    if not element.get("videoWidth"):
        problems.append(f"the page's loopback <video> shows nothing: {element}")
    audio = [s.get("audioPackets") for s in samples if s.get("audioPackets") is not None]
    if audio and audio[-1] <= audio[0]:
        problems.append(f"no returned audio packets ({audio[0]} -> {audio[-1]})")


def check_keyframe_relay(res, problems, info):
    """The page garbled the returned video for a while: its receiver asked
    the server for a keyframe, the server asked the sender, and the returned
    video went on decoding."""
    pli = res.get("pli") or {}
    before, end, after = pli.get("before"), pli.get("dropEnd"), pli.get("after")
    if not (before and end and after):
        problems.append(f"keyframe relay: no measurements ({pli})")
        return
    info.append(f"keyframe relay: garbled {pli.get('dropped')} returned frames; PLIs the page sent "
                f"{before['received']} -> {after['received']}, PLIs its sender got "
                f"{before['sent']} -> {after['sent']}, keyframes encoded "
                f"{before['keyFramesEncoded']} -> {after['keyFramesEncoded']}, decoded after "
                f"the drop {end['framesDecoded']} -> {after['framesDecoded']} "
                f"({pli.get('recoveredAfterS', 0):.2f} s later)")
    if not pli.get("dropped"):
        problems.append("keyframe relay: the page garbled no frame")
    if after["received"] <= before["received"]:
        problems.append("keyframe relay: the page's receiver asked for no keyframe")
    if after["sent"] <= before["sent"] or after["keyFramesEncoded"] <= before["keyFramesEncoded"]:
        problems.append("keyframe relay: the server did not pass the request on to the sender "
                        f"(its PLIs {before['sent']} -> {after['sent']})")
    if after["framesDecoded"] - end["framesDecoded"] < 15:
        problems.append("keyframe relay: the returned video did not recover "
                        f"({end['framesDecoded']} -> {after['framesDecoded']} frames)")


def check_admin(res, path, name, info):
    """/admin: screenshot not blank, loopback decoded, recording played back
    in the page and good by ffprobe."""
    problems = []
    info.append(f"page {res.get('adminUrl')}, admin.css applied: {res.get('styled')}")
    if not res.get("styled"):
        problems.append("admin.css was not applied (a relative link broken?)")
    check_loopback(res, problems, info)
    try:
        shot, regions = res.get("screenshot") or "", res.get("regions") or {}
        colours = png_colours(shot)
        video = {name: png_colours(shot, box) for name, box in regions.items()}
        info.append(f"screenshot {shot}: {colours} distinct colours; in the videos: {video}")
        if colours < MIN_SCREENSHOT_COLOURS:
            problems.append(f"the screenshot looks blank ({colours} distinct colours)")
        for element in ("preview", "loopback"):
            if video.get(element, 0) < MIN_VIDEO_COLOURS:
                problems.append(f"the {element} video looks blank in the screenshot "
                                f"({video.get(element, 0)} distinct colours)")
    except (OSError, ValueError, zlib.error, struct.error, TypeError) as e:
        problems.append(f"screenshot unreadable: {e}")
    playback = res.get("playback") or {}
    info.append(f"played back in the page: {playback}")
    key, url = res.get("key") or "", res.get("videoUrl") or ""
    if not key.endswith(".webm") or not url.endswith("/" + key):
        problems.append(f"videoUrl {url!r} / key {key!r}: expected URL/KEY.webm")
        return name, problems, info
    dest = os.path.join(os.path.dirname(path), f"{res.get('browser')}-admin-{key}")
    try:
        download(url, dest)
    except (OSError, rc.RecorderError) as e:
        return name, problems + [f"download {url}: {e}"], info
    # The page asks for the camera's default size: judge the file by the
    # size the page decoded from it.
    rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT = playback.get("videoWidth"), playback.get("videoHeight")
    try:
        result = rc.check_recording(dest, video_codec="vp8", seconds=res["seconds"],
                                    tolerance=TOLERANCE)
    finally:
        rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT = track_size
    info.append(f"recorded {res['seconds']:.2f} s; ffprobe: {result.summary}")
    return name, problems + result.problems, info


def check_case(path):
    """(name, problems, summary lines)"""
    with open(path) as f:
        res = json.load(f)
    name = f"{res.get('browser')}/{res.get('case')}"
    if res.get("case") == "admin" and res.get("ok"):
        return check_admin(res, path, name, [])
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
    info.append(f"ICE: {len(res.get('localCandidates') or [])} local candidates sent "
                f"({sum(1 for c in res.get('localCandidates') or [] if c.get('candidate') == '')} "
                f"end-of-candidates), {len(res.get('remoteCandidates') or [])} received; "
                f"states {' '.join(s[0][0] + ':' + s[1] for s in res.get('states') or [])}")
    if res.get("case") in ("client", "loopback", "proxy"):
        if not (res.get("wsUrl") or "").endswith("/api/recorder"):
            problems.append(f"client.js derived the websocket URL {res.get('wsUrl')!r}")
        if res["case"] == "proxy" and PROXY_PREFIX + "api/recorder" not in res.get("wsUrl", ""):
            problems.append(f"behind the proxy, client.js derived {res.get('wsUrl')!r}: "
                            f"the {PROXY_PREFIX} prefix is lost")
        directions = {m["dir"] for m in sdp_codecs(res.get("answer"))[0] if m["port"] != "0"}
        want = "sendrecv" if res["case"] == "loopback" else "recvonly"
        if PROXY_PREFIX + "recordings/" not in (res.get("videoUrl") or ""):
            problems.append(f"videoUrl {res.get('videoUrl')!r} does not go through the proxy "
                            "(--public-url)")
        if directions != {want}:
            problems.append(f"the answer's directions are {sorted(directions)}, expected {want}")
    if res.get("case") == "loopback":
        check_loopback(res, problems, info)
        if res.get("browser") == "chromium":
            check_keyframe_relay(res, problems, info)
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
    # The browser's encoder may scale the camera's 640x360 down and back up
    # (Firefox starts at 320x180): the file must hold exactly the sizes the
    # browser reported sending, its first one in the track header.
    track = (res.get("trackSettings") or {}).get("video") or {}
    if (track.get("width"), track.get("height")) != (rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT):
        problems.append(f"the camera track is {track.get('width')}x{track.get('height')}, "
                        f"expected {rc.VIDEO_WIDTH}x{rc.VIDEO_HEIGHT}")
    sent_sizes = res.get("sentSizes") or []
    if not sent_sizes:
        problems.append("the browser reported no sent frame size")
        return name, problems, info
    first_w, first_h = (int(x) for x in sent_sizes[0].split("x"))
    rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT = first_w, first_h
    try:
        result = rc.check_recording(dest, video_codec=expected, seconds=res["seconds"],
                                    tolerance=TOLERANCE)
    finally:
        rc.VIDEO_WIDTH, rc.VIDEO_HEIGHT = track_size
    info.append(f"recorded {res['seconds']:.2f} s; ffprobe: {result.summary}")
    problems += result.problems
    sizes = frame_sizes(dest)
    info.append("decoded frame sizes: " + ", ".join(f"{s} x{n}" for s, n in sizes.items()) +
                f" (browser sent: {', '.join(sent_sizes)})")
    strays = [s for s in sizes if s not in sent_sizes]
    if strays:
        problems.append(f"decoded frames of size {', '.join(strays)}, which the browser never "
                        f"sent ({', '.join(sent_sizes)})")
    return name, problems, info


def print_sdp(path):
    """The whole offer and answer of a failed case, for the diagnosis."""
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError):
        return
    for what in ("offer", "answer"):
        sdp = res.get(what)
        print(f"    ---- {what} SDP ----" if sdp else f"    ---- no {what} SDP ----")
        for line in (sdp or "").splitlines():
            print(f"    | {line}")
    print("    ---- end of SDP ----", flush=True)


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
        if problems:
            print_sdp(path)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
