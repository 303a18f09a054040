"""tests/lib/recorder_client.py - an aiortc client for the recorder protocol.

This module owns everything a test needs to act like a browser recording its
camera and microphone through webrtc-video's websocket at /api/recorder (the
protocol of seed 000, spelled out in proto/client.h), and to judge the file
the server produced:

* SyntheticVideoTrack / ToneAudioTrack - media that really changes: a moving
  pattern with the frame number drawn into every frame (640x360 @ 30 fps) and
  a 48 kHz sine tone, so that a recording of frozen or repeated frames fails.
* RecorderClient - one websocket connection: sends `start` with an aiortc
  offer (VP8 or H264 via setCodecPreferences; audio and/or video), trickles
  its own candidates as `onIceCandidate`, applies the server's `iceCandidate`s,
  records, sends `stop`, waits for `uploadSuccess` and downloads the file.
  It can also send arbitrary (bad) messages and wait for the answer.
* probe_recording / check_recording - ffprobe/ffmpeg checks: streams and
  codecs present, frames decode, frames differ, duration matches the seconds
  sent, Opus at 48000 Hz.

Platform notes (see /work/shared/design.md): run with /usr/bin/python3 (the
Debian interpreter that has aiortc 1.4). aiortc never trickles - all its
candidates are in its SDP - and skips 127.0.0.1, so tests run in a private
network namespace (tests/lib/netns.sh) and pin aiortc's host addresses with
restrict_ice_addresses(). aiortc's default STUN server is never used: every
peer connection is created with an empty iceServers list, so no packet is
sent outside the namespace.
"""

import asyncio
import ctypes
import ctypes.util
import fractions
import json
import math
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import aioice.ice
import numpy
import websockets
from aiortc import (
    RTCConfiguration,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
import av.logging
from av import AudioFrame, VideoFrame



def _quiet_libav() -> None:
    """Keep libav's encoder chatter (x264 statistics etc.) out of the test
    output. aiortc restores libav's own log callback, so PyAV's level does
    not apply: set libavutil's threshold directly (AV_LOG_ERROR = 16)."""
    av.logging.set_level(av.logging.ERROR)
    try:
        ctypes.CDLL(ctypes.util.find_library("avutil") or "libavutil.so").av_log_set_level(16)
    except (OSError, AttributeError):
        pass


_quiet_libav()

VIDEO_WIDTH = 640
VIDEO_HEIGHT = 360
VIDEO_FPS = 30  # aiortc's VideoStreamTrack paces at 1/30 s
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020

# --------------------------------------------------------------------------
# ICE host addresses
# --------------------------------------------------------------------------

_original_get_host_addresses = aioice.ice.get_host_addresses


def restrict_ice_addresses(addresses: Optional[List[str]]) -> None:
    """Make every later aiortc peer connection gather only on `addresses`
    (None restores aioice's default: every non-loopback interface)."""
    if addresses is None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    pinned = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> List[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


# --------------------------------------------------------------------------
# Synthetic media
# --------------------------------------------------------------------------


class SyntheticVideoTrack(VideoStreamTrack):
    """640x360 yuv420p frames at 30 fps: a diagonal gradient scrolling one
    step per frame, a bright box sweeping across, and the frame number as a
    32-bit bar code along the top edge, so consecutive frames always differ."""

    BAR_HEIGHT = 16

    def __init__(self, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT):
        super().__init__()
        self.width = width
        self.height = height
        self.frames_sent = 0
        ys, xs = numpy.mgrid[0:height, 0:width]
        self._diagonal = (xs + ys).astype(numpy.uint16)
        self._bit_width = width // 32

    def _draw(self, n: int) -> numpy.ndarray:
        w, h = self.width, self.height
        luma = ((self._diagonal + 4 * n) & 0xFF).astype(numpy.uint8)
        box_x = (n * 6) % (w - 64)
        box_y = h // 2 - 32 + int(60 * math.sin(n / 15))
        luma[box_y:box_y + 64, box_x:box_x + 64] = 235
        for bit in range(32):
            x0 = bit * self._bit_width
            luma[0:self.BAR_HEIGHT, x0:x0 + self._bit_width] = 235 if (n >> bit) & 1 else 16
        chroma_u = numpy.full((h // 2, w // 2), 128 + int(80 * math.sin(n / 20)), numpy.uint8)
        chroma_v = numpy.full((h // 2, w // 2), 128 + int(80 * math.cos(n / 25)), numpy.uint8)
        # yuv420p as one (h * 3/2, w) array: Y, then U and V each as h/4 rows.
        return numpy.concatenate(
            [luma, chroma_u.reshape(h // 4, w), chroma_v.reshape(h // 4, w)])

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame.from_ndarray(self._draw(self.frames_sent), format="yuv420p")
        frame.pts = pts
        frame.time_base = time_base
        self.frames_sent += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """48 kHz mono s16 frames of 20 ms carrying a 440 Hz sine, paced in real time."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, rate: int = AUDIO_RATE):
        super().__init__()
        self.frequency = frequency
        self.rate = rate
        self.samples = int(rate * AUDIO_PTIME)
        self.frames_sent = 0
        self._start: Optional[float] = None
        self._pts = 0

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += self.samples
            delay = self._start + self._pts / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        t = (numpy.arange(self.samples) + self._pts) / self.rate
        pcm = (8000 * numpy.sin(2 * math.pi * self.frequency * t)).astype(numpy.int16)
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.rate)
        self.frames_sent += 1
        return frame


# --------------------------------------------------------------------------
# The protocol client
# --------------------------------------------------------------------------


class RecorderError(Exception):
    """The session did not go as the protocol says (timeouts included)."""


class ServerError(RecorderError):
    """The server answered {"id":"error"}."""

    def __init__(self, message: Any):
        super().__init__(f"server error: {message!r}")
        self.server_message = message


class ConnectionClosedError(RecorderError):
    """The websocket closed while we waited for a message."""


_CLOSED = object()  # queue sentinel: the websocket is gone


@dataclass
class Recording:
    """What one finished session produced."""
    key: str
    video_url: str
    seconds_sent: float  # connected -> stop, as the client measured it
    video_frames_sent: Optional[int] = None  # frames our track handed to aiortc's encoder
    path: Optional[str] = None  # the downloaded file
    messages: List[Dict[str, Any]] = field(default_factory=list)


class RecorderClient:
    """One client of /api/recorder.

    Typical use:
        async with RecorderClient(url, video_codec="H264") as c:
            await c.start()
            await c.wait_connected()
            await asyncio.sleep(4)
            rec = await c.stop()
            await c.download(rec, "/tmp/a.mkv")
    """

    def __init__(self, url: str, *, video: bool = True, audio: bool = True,
                 video_codec: str = "VP8", send_candidates: bool = True,
                 name: str = "client", loopback: bool = False):
        if not (video or audio):
            raise ValueError("a session needs audio, video or both")
        if video_codec.upper() not in ("VP8", "H264"):
            raise ValueError(f"unsupported video codec {video_codec}")
        self.url = url
        self.video = video
        self.audio = audio
        self.video_codec = video_codec.upper()
        self.send_candidates = send_candidates
        self.name = name
        # loopback: offer send-receive, ask for it in start, and count what
        # comes back, per kind (frames decoded from the server's tracks)
        self.loopback = loopback
        self.returned: Dict[str, int] = {}
        self._sinks: List[asyncio.Task] = []
        self.ws = None
        self.pc: Optional[RTCPeerConnection] = None
        self.video_track: Optional[SyntheticVideoTrack] = None
        self.audio_track: Optional[ToneAudioTrack] = None
        self.offer_sdp: Optional[str] = None
        self.answer_sdp: Optional[str] = None
        self.server_candidates: List[Dict[str, Any]] = []  # as received
        self.candidate_problems: List[str] = []
        self.end_of_candidates = False
        self.received: List[Any] = []  # every message, in order (parsed JSON or raw text)
        self.close_code: Optional[int] = None
        self.connected_at: Optional[float] = None
        self._queue: "asyncio.Queue[Any]" = asyncio.Queue()
        self._reader: Optional[asyncio.Task] = None
        self._pending_candidates: List[Dict[str, Any]] = []
        self._remote_set = False
        self._connected = asyncio.Event()
        self._failed = asyncio.Event()

    # -- connection --------------------------------------------------------

    async def connect(self, timeout: float = 5.0) -> "RecorderClient":
        self.ws = await asyncio.wait_for(
            websockets.connect(self.url, max_size=None, compression=None,
                               open_timeout=timeout, close_timeout=2),
            timeout)
        self._reader = asyncio.ensure_future(self._read_loop())
        return self

    async def __aenter__(self) -> "RecorderClient":
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the peer connection and the websocket (no `stop` is sent)."""
        if self.pc is not None:
            await self.pc.close()
        for task in self._sinks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 3)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()

    @property
    def is_open(self) -> bool:
        return self.ws is not None and self.ws.open

    async def _read_loop(self) -> None:
        try:
            async for raw in self.ws:
                try:
                    msg = json.loads(raw)
                except (ValueError, TypeError):
                    msg = raw  # not JSON: kept for the test to complain about
                self.received.append(msg)
                if isinstance(msg, dict) and msg.get("id") == "iceCandidate":
                    await self._on_server_candidate(msg.get("candidate"))
                else:
                    await self._queue.put(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            await self._queue.put(_CLOSED)

    # -- raw messages ------------------------------------------------------

    async def send(self, message: Any) -> None:
        """Send a dict as JSON, or a str/bytes exactly as given."""
        if isinstance(message, (dict, list)):
            message = json.dumps(message)
        await self.ws.send(message)

    async def next_message(self, timeout: float = 5.0) -> Any:
        """The next message other than iceCandidate (those are applied as
        they come). Raises ConnectionClosedError or RecorderError on timeout."""
        try:
            msg = await asyncio.wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            raise RecorderError(f"{self.name}: no message within {timeout:g} s") from None
        if msg is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # every later wait sees it too
            raise ConnectionClosedError(
                f"{self.name}: websocket closed (code {self.close_code})")
        return msg

    async def expect(self, msg_id: str, timeout: float = 5.0) -> Dict[str, Any]:
        """Wait for the next message and require its id to be `msg_id`;
        an {"id":"error"} instead raises ServerError."""
        msg = await self.next_message(timeout)
        if not isinstance(msg, dict):
            raise RecorderError(f"{self.name}: expected {msg_id}, got non-object {msg!r:.200}")
        if msg.get("id") == msg_id:
            return msg
        if msg.get("id") == "error":
            raise ServerError(msg.get("message"))
        raise RecorderError(f"{self.name}: expected {msg_id}, got {json.dumps(msg)[:300]}")

    async def expect_error(self, timeout: float = 5.0) -> Dict[str, Any]:
        """Wait for the next message and require it to be {"id":"error"}."""
        msg = await self.next_message(timeout)
        if not (isinstance(msg, dict) and msg.get("id") == "error"):
            raise RecorderError(f"{self.name}: expected an error, got {str(msg)[:300]}")
        return msg

    # -- WebRTC ------------------------------------------------------------

    async def make_offer(self) -> str:
        """Create the peer connection and its offer (candidates included)."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @self.pc.on("connectionstatechange")
        def on_state() -> None:
            if self.pc.connectionState == "connected":
                if self.connected_at is None:
                    self.connected_at = time.monotonic()
                self._connected.set()
            elif self.pc.connectionState in ("failed", "closed"):
                self._failed.set()

        direction = "sendrecv" if self.loopback else "sendonly"

        @self.pc.on("track")
        def on_track(track) -> None:
            self._sinks.append(asyncio.ensure_future(self._count_returned(track)))

        if self.video:
            self.video_track = SyntheticVideoTrack()
            transceiver = self.pc.addTransceiver(self.video_track, direction=direction)
            wanted = "video/" + self.video_codec
            codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
                      if c.mimeType.lower() == wanted.lower()]
            if not codecs:
                raise RecorderError(f"aiortc cannot send {wanted}")
            transceiver.setCodecPreferences(codecs)
        if self.audio:
            self.audio_track = ToneAudioTrack()
            self.pc.addTransceiver(self.audio_track, direction=direction)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.offer_sdp = self.pc.localDescription.sdp
        return self.offer_sdp

    async def _count_returned(self, track) -> None:
        """Decode what the server sends back on `track` (loopback)."""
        self.returned.setdefault(track.kind, 0)
        try:
            while True:
                await track.recv()
                self.returned[track.kind] += 1
        except Exception:  # MediaStreamError when the track ends
            pass

    def local_candidates(self) -> List[Dict[str, Any]]:
        """Our candidates as onIceCandidate payloads, read from our SDP."""
        out: List[Dict[str, Any]] = []
        mline = -1
        mid = None
        for line in self.offer_sdp.splitlines():
            if line.startswith("m="):
                mline += 1
                mid = None
            elif line.startswith("a=mid:"):
                mid = line[len("a=mid:"):]
            elif line.startswith("a=candidate:") and mline >= 0:
                out.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": mline})
        return out

    async def send_local_candidates(self) -> int:
        candidates = self.local_candidates()
        for cand in candidates:
            await self.send({"id": "onIceCandidate", "candidate": cand})
        return len(candidates)

    async def start(self, timeout: float = 15.0) -> str:
        """Send start (plus our candidates), wait for startResponse and apply
        the answer. Returns the answer SDP; ServerError if refused."""
        if self.pc is None:
            await self.make_offer()
        start = {"id": "start", "sdpOffer": self.offer_sdp}
        if self.loopback:
            start["loopback"] = True
        await self.send(start)
        if self.send_candidates:
            await self.send_local_candidates()
        msg = await self.expect("startResponse", timeout)
        answer = msg.get("sdpAnswer")
        if not isinstance(answer, str) or not answer.startswith("v=0"):
            raise RecorderError(
                f"{self.name}: startResponse without a usable sdpAnswer: {msg!r:.300}")
        self.answer_sdp = answer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        self._remote_set = True
        pending, self._pending_candidates = self._pending_candidates, []
        for cand in pending:
            await self._apply_candidate(cand)
        return answer

    async def _on_server_candidate(self, cand: Any) -> None:
        if not isinstance(cand, dict) or not isinstance(cand.get("candidate"), str):
            self.candidate_problems.append(f"malformed iceCandidate: {cand!r:.200}")
            return
        self.server_candidates.append(cand)
        if cand["candidate"] == "":
            self.end_of_candidates = True  # end-of-candidates: aiortc needs nothing
            return
        if self._remote_set:
            await self._apply_candidate(cand)
        else:
            self._pending_candidates.append(cand)

    async def _apply_candidate(self, cand: Dict[str, Any]) -> None:
        text = cand["candidate"]
        if text.startswith("candidate:"):
            text = text[len("candidate:"):]
        try:
            candidate: RTCIceCandidate = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError) as e:
            self.candidate_problems.append(f"unparsable candidate {cand!r:.200}: {e!r}")
            return
        candidate.sdpMid = cand.get("sdpMid")
        candidate.sdpMLineIndex = cand.get("sdpMLineIndex")
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            self.candidate_problems.append(f"candidate without sdpMid/sdpMLineIndex: {cand!r:.200}")
            return
        if candidate.sdpMid is None:  # aiortc 1.4 matches by sdpMid only
            mids = [t.mid for t in self.pc.getTransceivers()]
            if 0 <= candidate.sdpMLineIndex < len(mids):
                candidate.sdpMid = mids[candidate.sdpMLineIndex]
        await self.pc.addIceCandidate(candidate)

    def server_ports(self) -> List[int]:
        """UDP ports of the server's candidates (answer SDP and trickled)."""
        lines = [c["candidate"] for c in self.server_candidates if c.get("candidate")]
        lines += [l[2:] for l in (self.answer_sdp or "").splitlines()
                  if l.startswith("a=candidate:")]
        ports = set()
        for line in lines:
            bits = line.split()
            if len(bits) >= 8 and bits[2].lower() == "udp":
                ports.add(int(bits[5]))
        return sorted(ports)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until ICE and DTLS are up (media flows from then on)."""
        done, _ = await asyncio.wait(
            [asyncio.ensure_future(self._connected.wait()),
             asyncio.ensure_future(self._failed.wait())],
            timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in _:
            task.cancel()
        if self._connected.is_set():
            return
        state = self.pc.connectionState if self.pc else "no peer connection"
        ice = self.pc.iceConnectionState if self.pc else "-"
        raise RecorderError(
            f"{self.name}: not connected within {timeout:g} s (connection {state}, ice {ice}, "
            f"server candidates {len(self.server_candidates)}, problems {self.candidate_problems})")

    async def stop(self, timeout: float = 20.0) -> Recording:
        """Send stop and wait for uploadSuccess; returns the Recording."""
        seconds = time.monotonic() - self.connected_at if self.connected_at else 0.0
        await self.send({"id": "stop"})
        msg = await self.expect("uploadSuccess", timeout)
        url, key = msg.get("videoUrl"), msg.get("key")
        if not isinstance(url, str) or not isinstance(key, str) or not key:
            raise RecorderError(f"{self.name}: uploadSuccess without videoUrl/key: {msg!r:.300}")
        if not url.endswith("/" + key):
            raise RecorderError(f"{self.name}: videoUrl {url!r} does not end with key {key!r}")
        return Recording(key=key, video_url=url, seconds_sent=seconds,
                         video_frames_sent=self.video_track.frames_sent if self.video_track else None,
                         messages=list(self.received))

    async def download(self, recording: Recording, dest: str, timeout: float = 10.0) -> str:
        """GET the recording's videoUrl into `dest`."""
        def fetch() -> None:
            with urllib.request.urlopen(recording.video_url, timeout=timeout) as resp:
                if resp.status != 200:
                    raise RecorderError(f"GET {recording.video_url}: HTTP {resp.status}")
                with open(dest, "wb") as out:
                    shutil.copyfileobj(resp, out)
        await asyncio.get_running_loop().run_in_executor(None, fetch)
        recording.path = dest
        return dest


async def record_session(url: str, seconds: float, dest: str, **options) -> Recording:
    """Connect, start, record `seconds` of media, stop, download to `dest`."""
    async with RecorderClient(url, **options) as client:
        await client.start()
        await client.wait_connected()
        await asyncio.sleep(seconds)
        recording = await client.stop()
        await client.download(recording, dest)
        return recording


# --------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------


def http_get(url: str, timeout: float = 5.0) -> (int, bytes):
    """GET `url`; returns (status, body), HTTP errors included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def async_http_get(url: str, timeout: float = 5.0) -> (int, bytes):
    return await asyncio.get_running_loop().run_in_executor(None, http_get, url, timeout)


# --------------------------------------------------------------------------
# Checking recordings
# --------------------------------------------------------------------------


def probe_recording(path: str) -> Dict[str, Any]:
    """ffprobe's view of `path`, with every frame decoded (-count_frames)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_format", "-show_streams",
         "-of", "json", path],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RecorderError(f"ffprobe {path}: exit {out.returncode}: {out.stderr.strip()[:500]}")
    info = json.loads(out.stdout)
    info["stderr"] = out.stderr
    return info


def _media_end_time(path: str) -> Optional[float]:
    """Last packet end across all streams, for files whose header lacks a
    duration (a recording cut short)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=pts_time,duration_time",
         "-of", "csv=p=0", path],
        capture_output=True, text=True, timeout=60)
    start, end = None, None
    for line in out.stdout.splitlines():
        parts = line.split(",")
        try:
            pts = float(parts[0])
        except (ValueError, IndexError):
            continue
        dur = float(parts[1]) if len(parts) > 1 and parts[1] not in ("", "N/A") else 0.0
        start = pts if start is None else min(start, pts)
        end = pts + dur if end is None else max(end, pts + dur)
    return None if end is None else end - (start or 0.0)


def distinct_video_frames(path: str) -> (int, int):
    """(decoded video frames, distinct ones) by hashing every decoded frame."""
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map", "0:v:0",
         "-fps_mode", "passthrough", "-f", "framemd5", "-"],
        capture_output=True, text=True, timeout=120)
    hashes = [line.rsplit(",", 1)[-1].strip() for line in out.stdout.splitlines()
              if line and not line.startswith("#")]
    return len(hashes), len(set(hashes))


@dataclass
class CheckResult:
    problems: List[str]
    summary: str

    @property
    def ok(self) -> bool:
        return not self.problems


def check_recording(path: str, *, video: bool = True, audio: bool = True,
                    video_codec: Optional[str] = None, seconds: Optional[float] = None,
                    tolerance: float = 1.0, min_frame_ratio: float = 0.4,
                    frames_sent: Optional[int] = None,
                    strict: bool = True) -> CheckResult:
    """Judge a recording. `seconds` is what the client sent (None skips the
    duration and frame-count checks). `frames_sent`, when the sender knows it,
    is the number of video frames it produced: an aiortc sender starved of
    CPU encodes fewer than 30 a second, and then at least 90% of what it sent
    (some frames go out before ICE is up) must decode, instead of a share of
    the nominal frame rate. With `strict`, any decoder complaint
    from ffprobe is a problem (a recording cut short may end in a damaged
    cluster: pass strict=False). Returns every problem found."""
    problems: List[str] = []
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return CheckResult([f"{path}: missing or empty"], "")
    try:
        info = probe_recording(path)
    except RecorderError as e:
        return CheckResult([str(e)], "")
    streams = info.get("streams", [])
    vids = [s for s in streams if s.get("codec_type") == "video"]
    auds = [s for s in streams if s.get("codec_type") == "audio"]
    fmt = info.get("format", {})
    notes = [f"{fmt.get('format_name')} {os.path.getsize(path)} B"]

    if video and len(vids) != 1:
        problems.append(f"expected one video stream, found {len(vids)}")
    if not video and vids:
        problems.append(f"expected no video stream, found {len(vids)}")
    if audio and len(auds) != 1:
        problems.append(f"expected one audio stream, found {len(auds)}")
    if not audio and auds:
        problems.append(f"expected no audio stream, found {len(auds)}")

    duration = None
    try:
        duration = float(fmt.get("duration"))
    except (TypeError, ValueError):
        duration = _media_end_time(path)
    notes.append(f"duration {duration if duration is None else round(duration, 2)} s")
    if seconds is not None:
        if duration is None:
            problems.append("no duration (no packets)")
        elif abs(duration - seconds) > tolerance:
            problems.append(f"duration {duration:.2f} s, expected {seconds:.2f} +- {tolerance:g} s")

    if video and vids:
        v = vids[0]
        codec = v.get("codec_name")
        frames = int(v.get("nb_read_frames") or 0)
        notes.append(f"video {codec} {v.get('width')}x{v.get('height')} {frames} frames")
        if video_codec and codec != video_codec.lower():
            problems.append(f"video codec {codec}, expected {video_codec.lower()}")
        if (v.get("width"), v.get("height")) != (VIDEO_WIDTH, VIDEO_HEIGHT):
            problems.append(f"video size {v.get('width')}x{v.get('height')}, "
                            f"expected {VIDEO_WIDTH}x{VIDEO_HEIGHT}")
        if frames_sent is not None:
            minimum = max(1, int(0.9 * frames_sent) - VIDEO_FPS)
        else:
            minimum = max(1, int(min_frame_ratio * VIDEO_FPS * seconds)) if seconds else 1
        if frames < minimum:
            problems.append(f"{frames} video frames decoded, expected at least {minimum}"
                            + (f" ({frames_sent} sent)" if frames_sent is not None else ""))
        else:
            total, distinct = distinct_video_frames(path)
            notes.append(f"{distinct}/{total} distinct")
            if total == 0 or distinct < 0.9 * total:
                problems.append(f"only {distinct} of {total} decoded video frames differ "
                                "(frozen or repeated frames)")
    if audio and auds:
        a = auds[0]
        codec = a.get("codec_name")
        rate = a.get("sample_rate")
        frames = int(a.get("nb_read_frames") or 0)
        notes.append(f"audio {codec} {rate} Hz {a.get('channels')} ch {frames} frames")
        if codec != "opus":
            problems.append(f"audio codec {codec}, expected opus")
        if str(rate) != "48000":
            problems.append(f"audio sample rate {rate}, expected 48000")
        minimum = max(1, int(min_frame_ratio * seconds / AUDIO_PTIME)) if seconds else 1
        if frames < minimum:
            problems.append(f"{frames} audio frames decoded, expected at least {minimum}")
    complaints = info.get("stderr", "").strip().splitlines()
    if complaints:
        said = f"ffprobe reported {len(complaints)} decoding errors, first: {complaints[0][:200]}"
        (problems if strict else notes).append(said)
    return CheckResult(problems, ", ".join(notes))
