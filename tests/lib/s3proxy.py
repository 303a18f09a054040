"""tests/lib/s3proxy.py - a verifying, fault-injecting HTTP proxy in front of s3rver.

s3rver accepts any SigV4 signature (design.md), so on its own it proves
nothing about signing.  This proxy sits between the server under test and
s3rver and, for every request:

  1. re-verifies the SigV4 signature with botocore (an independent
     implementation): the request is rebuilt from the received method, path
     (decoded, then canonically re-encoded the way S3 does), query (decoded
     pairs), the headers named in SignedHeaders and every x-amz-* header
     (S3 wants them all signed), signed with the proxy's
     credentials at the request's own x-amz-date, and the Authorization
     header must match (credential scope, signed headers, signature);
     x-amz-date must be within 15 minutes of now, as S3 requires;
  2. checks that x-amz-content-sha256 is the SHA-256 of the body received,
     that the body came with a Content-Length (no Transfer-Encoding:
     chunked), and that the path on the wire is the canonical encoding of
     the key (every byte outside A-Za-z0-9-._~/ encoded, exactly once), so
     the bytes signed are the bytes sent;
  3. answers 403 SignatureDoesNotMatch (RequestTimeTooSkewed for a stale
     date; an S3 XML error, counted as a mismatch) when 1 fails and
     400 when 2 fails (411 MissingContentLength for a PUT or POST without
     one), counting each (`mismatches`, `violations`); otherwise
  4. applies an injected fault if one matches, else forwards to s3rver.

Every request is recorded (method, path, query, status, what happened) so a
test can assert what the client did.

In-process use:

    from s3proxy import S3Proxy
    proxy = S3Proxy(store.endpoint, "S3RVER", "S3RVER").start()
    proxy.endpoint                               # give this to the server
    proxy.inject(503, "SlowDown", count=2, method="PUT", query="partNumber")
    proxy.inject(200, "InternalError", method="POST", query="uploadId")  # 200 carrying <Error>
    proxy.inject(404, "NoSuchUpload", method="DELETE")
    proxy.drop(count=1)                          # close the connection, no answer
    proxy.set_down(True)                         # every connection closed at once
    proxy.take_requests()     # [{method, path, query, status, outcome, amz_date}]
    proxy.mismatches, proxy.violations           # counters since start/reset
    proxy.stop()

Faults are consumed first in, first out by the requests they match (method,
and a substring of the raw query).  When s3rver itself is down the proxy
closes the client's connection without an answer, as a dead S3 would.

As a subprocess (the control interface is HTTP + JSON on its own port):

    /usr/bin/python3 tests/lib/s3proxy.py --upstream http://127.0.0.1:PORT \
        [--access-key S3RVER --secret-key S3RVER --region us-east-1]
    -> prints one JSON line {"endpoint": "http://127.0.0.1:P", "control": "http://127.0.0.1:C"}
    GET  CONTROL/state   -> {"requests": [...], "mismatches": N, "violations": N, "down": bool}
    POST CONTROL/inject  {"status": 503, "code": "SlowDown", "count": 2,
                          "method": "PUT", "query": "partNumber"}
    POST CONTROL/drop    {"count": 1, "method": null, "query": null}
    POST CONTROL/down    {"down": true}
    POST CONTROL/reset   (forgets faults, records and counters)
Stops on SIGTERM.
"""

import argparse
import calendar
import hashlib
import http.client
import http.server
import json
import signal
import sys
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-connection", "content-length"}


def s3_error_xml(code: str, message: str) -> bytes:
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
            "<Message>%s</Message><RequestId>s3proxy</RequestId></Error>"
            % (escape(code), escape(message))).encode()


def parse_authorization(value: str) -> dict | None:
    """{"Credential": ..., "SignedHeaders": ..., "Signature": ...} or None."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return None
    fields = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep:
            return None
        fields[name] = val
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return None
    return fields


def expected_authorization(method, host_path_query, headers, body, access_key, secret_key,
                           region) -> str | None:
    """What botocore's S3SigV4Auth signs for this request at its x-amz-date.

    headers: the received headers (name -> value, any case).  Those the
    request claims to sign and every x-amz-* header are given to botocore
    (S3 requires all x-amz-* headers to be signed); it adds x-amz-date,
    x-amz-content-sha256 (the hash of `body`) and x-amz-security-token
    itself, so a request that does not sign those cannot match."""
    lower = {k.lower(): v for k, v in headers.items()}
    auth = parse_authorization(lower.get("authorization", ""))
    amz_date = lower.get("x-amz-date")
    if auth is None or amz_date is None:
        return None
    signed = auth["SignedHeaders"].split(";")
    path, _, query = host_path_query.partition("?")
    # S3 works on the decoded key; canonical form re-encodes it exactly once
    canon_path = percent_encode(urllib.parse.unquote(path), safe="/~")
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    # S3 requires every x-amz-* header sent to be signed: give botocore all
    # of them, so one left out of SignedHeaders makes the signatures differ
    keep = {name: lower[name] for name in lower
            if name in signed or name.startswith("x-amz-")}
    keep.pop("x-amz-date", None)
    keep.pop("x-amz-content-sha256", None)
    token = keep.pop("x-amz-security-token", None)
    request = AWSRequest(method=method, url="http://" + lower.get("host", "") + canon_path,
                         data=body, headers=keep, params=params or None)
    signer = S3SigV4Auth(Credentials(access_key, secret_key, token), "s3", region)
    # botocore's add_auth() minus its clock: the request's own instant
    request.context["timestamp"] = amz_date
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    return request.headers["Authorization"]


def fresh(amz_date: str | None, skew: int = 15 * 60) -> bool:
    """x-amz-date within S3's 15 minutes of now (a stale signature re-sent
    on a late retry is refused, as S3 does)."""
    try:
        t = calendar.timegm(time.strptime(amz_date or "", "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return False
    return abs(time.time() - t) <= skew


def same_authorization(a: str, b: str) -> bool:
    pa, pb = parse_authorization(a or ""), parse_authorization(b or "")
    return pa is not None and pa == pb


class _Fault:
    def __init__(self, kind, count, method, query, status=0, code="", message=""):
        self.kind, self.count, self.method, self.query = kind, count, method, query
        self.status, self.code, self.message = status, code, message

    def matches(self, method: str, query: str) -> bool:
        return ((self.method is None or self.method == method)
                and (self.query is None or self.query in query))


class S3Proxy:
    def __init__(self, upstream: str, access_key: str = "S3RVER", secret_key: str = "S3RVER",
                 region: str = "us-east-1", host: str = "127.0.0.1", port: int = 0):
        up = urllib.parse.urlsplit(upstream)
        self.upstream_host, self.upstream_port = up.hostname, up.port or 80
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.lock = threading.Lock()
        self.faults: list[_Fault] = []
        self.requests: list[dict] = []
        self.mismatches = 0
        self.violations = 0
        self.down = False
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = None

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "S3Proxy":
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- control -------------------------------------------------------
    def inject(self, status: int, code: str, message: str | None = None, count: int = 1,
               method: str | None = None, query: str | None = None) -> None:
        """The next `count` matching requests get an S3 <Error> with this
        HTTP status (200 too: CompleteMultipartUpload's error in a 200; a
        3xx also carries a Location to the same URL) instead of reaching
        s3rver."""
        with self.lock:
            self.faults.append(_Fault("error", count, method, query, status, code,
                                      message or f"injected by s3proxy: {code}"))

    def drop(self, count: int = 1, method: str | None = None, query: str | None = None) -> None:
        """The next `count` matching requests get their connection closed
        without an answer (a network error for the client)."""
        with self.lock:
            self.faults.append(_Fault("drop", count, method, query))

    def set_down(self, down: bool) -> None:
        with self.lock:
            self.down = down

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()
            self.mismatches = self.violations = 0
            self.down = False

    def take_requests(self) -> list[dict]:
        """The requests recorded so far, forgetting them."""
        with self.lock:
            taken, self.requests = self.requests, []
            return taken

    def state(self) -> dict:
        with self.lock:
            return {"requests": list(self.requests), "mismatches": self.mismatches,
                    "violations": self.violations, "down": self.down}

    # ---- used by the handler ---------------------------------------------
    def _take_fault(self, method: str, query: str) -> _Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, query):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _record(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)
            if entry["outcome"] == "signature-mismatch":
                self.mismatches += 1
            elif entry["outcome"].startswith("violation"):
                self.violations += 1


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: S3Proxy = None

    def log_message(self, fmt, *args):  # quiet; the records say what happened
        pass

    def do_GET(self):
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _handle(self):
        owner = self.owner
        path, _, query = self.path.partition("?")
        entry = {"method": self.command, "path": urllib.parse.unquote(path), "query": query,
                 "status": None, "outcome": "", "amz_date": self.headers.get("x-amz-date")}
        if owner.down:
            entry["outcome"] = "down"
            owner._record(entry)
            self.close_connection = True
            return

        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            entry["outcome"] = "violation: chunked body"
            self._answer(entry, 400, s3_error_xml("InvalidRequest", "chunked body refused"))
            self.close_connection = True
            return
        if self.command in ("PUT", "POST") and self.headers.get("Content-Length") is None:
            entry["outcome"] = "violation: no Content-Length"
            self._answer(entry, 411, s3_error_xml("MissingContentLength", "no Content-Length"))
            self.close_connection = True
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))

        canonical_path = percent_encode(urllib.parse.unquote(path), safe="/~")
        if path != canonical_path:
            entry["outcome"] = "violation: path not encoded canonically (exactly once)"
            self._answer(entry, 400, s3_error_xml(
                "InvalidURI", f"path {path} is not the canonical encoding {canonical_path}"))
            return

        declared = self.headers.get("x-amz-content-sha256")
        if declared != hashlib.sha256(body).hexdigest():
            entry["outcome"] = "violation: x-amz-content-sha256 is not the body's SHA-256"
            self._answer(entry, 400, s3_error_xml(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed."))
            return

        headers = {k: v for k, v in self.headers.items()}
        want = expected_authorization(self.command, self.path, headers, body, owner.access_key,
                                      owner.secret_key, owner.region)
        if want is None or not same_authorization(self.headers.get("Authorization"), want):
            entry["outcome"] = "signature-mismatch"
            self._answer(entry, 403, s3_error_xml(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method."))
            return

        if not fresh(entry["amz_date"]):
            entry["outcome"] = "signature-mismatch"  # S3: RequestTimeTooSkewed
            self._answer(entry, 403, s3_error_xml(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large."))
            return

        fault = owner._take_fault(self.command, query)
        if fault is not None and fault.kind == "drop":
            entry["outcome"] = "dropped"
            owner._record(entry)
            self.close_connection = True
            return
        if fault is not None:
            entry["outcome"] = f"injected {fault.status} {fault.code}"
            # a 3xx points back at the same URL: a client that follows
            # redirects shows up as a second request
            extra = [("Location", self.path)] if 300 <= fault.status < 400 else None
            body = s3_error_xml(fault.code, fault.message)
            if fault.status == 200:  # S3 sends whitespace while it works, then the document
                body = b"\n \n \n" + body
            self._answer(entry, fault.status, body, extra)
            return
        self._forward(entry, body)

    def _forward(self, entry: dict, body: bytes) -> None:
        owner = self.owner
        conn = http.client.HTTPConnection(owner.upstream_host, owner.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            entry["outcome"] = f"upstream down: {e}"
            owner._record(entry)
            self.close_connection = True
            return
        finally:
            conn.close()
        entry["outcome"] = "forwarded"
        extra = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        self._answer(entry, resp.status, data, extra)

    def _answer(self, entry: dict, status: int, body: bytes, headers=None) -> None:
        entry["status"] = status
        self.owner._record(entry)
        self.send_response(status)
        has_type = False
        for name, value in headers or []:
            has_type |= name.lower() == "content-type"
            self.send_header(name, value)
        if not has_type and body:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# ---- subprocess mode: the control endpoint ---------------------------------

def _control_handler(proxy: S3Proxy):
    class Control(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def _reply(self, obj, status=200):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/state":
                self._reply(proxy.state())
            else:
                self._reply({"error": "unknown path"}, 404)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            try:
                args = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/inject":
                    proxy.inject(int(args["status"]), str(args["code"]), args.get("message"),
                                 int(args.get("count", 1)), args.get("method"), args.get("query"))
                elif self.path == "/drop":
                    proxy.drop(int(args.get("count", 1)), args.get("method"), args.get("query"))
                elif self.path == "/down":
                    proxy.set_down(bool(args.get("down", True)))
                elif self.path == "/reset":
                    proxy.reset()
                else:
                    self._reply({"error": "unknown path"}, 404)
                    return
            except (KeyError, TypeError, ValueError) as e:
                self._reply({"error": str(e)}, 400)
                return
            self._reply({"ok": True})

    return Control


def main() -> int:
    ap = argparse.ArgumentParser(description="verifying, fault-injecting proxy in front of s3rver")
    ap.add_argument("--upstream", required=True, help="s3rver's endpoint, http://127.0.0.1:PORT")
    ap.add_argument("--access-key", default="S3RVER")
    ap.add_argument("--secret-key", default="S3RVER")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    args = ap.parse_args()
    proxy = S3Proxy(args.upstream, args.access_key, args.secret_key, args.region,
                    port=args.port).start()
    control = http.server.ThreadingHTTPServer(("127.0.0.1", args.control_port),
                                              _control_handler(proxy))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    host, port = control.server_address[:2]
    print(json.dumps({"endpoint": proxy.endpoint, "control": f"http://{host}:{port}"}),
          flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    control.shutdown()
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
