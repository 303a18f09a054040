"""tests/s3/test_s3_client.py - worker/s3.c against s3rver, every request re-verified.

    /usr/bin/python3 tests/s3/test_s3_client.py BUILD/tests/s3/s3-tool

Starts s3rver (tests/lib/s3.py) and, in front of it, the proxy that
re-verifies each request's SigV4 signature and payload hash with botocore
and injects faults (tests/lib/s3proxy.py).  The C client (through s3-tool)
uploads; boto3 reads the objects back.  Cases: one PUT, one with a
session token; a three-part multipart upload (5 MiB, 5 MiB, a short last
part) sent out of order with part 1 last, and one with parts in flight at
the same time; 500 / 503 SlowDown / 429 / RequestTimeout / a dropped
connection retried and succeeding; retries exhausted; a dead store; a cancel
during a backoff; 403 and redirects not retried; a CompleteMultipartUpload
200 carrying an <Error>; AbortMultipartUpload (s3rver answers 405, which is
reported as it is; the 404 NoSuchUpload a real store gives, injected by the
proxy, counts as done); a wrong secret key rejected by the verifier; bad
configuration and unusable keys.  Ends by requiring that no request failed
verification except the wrong-key one.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from harness import CaseFailed, require  # noqa: E402
from s3 import ACCESS_KEY, SECRET_KEY, S3rver, boto3_client  # noqa: E402
from s3proxy import S3Proxy  # noqa: E402

BUCKET = "recordings"
MiB = 1024 * 1024


class Env:
    def __init__(self, tool, store, proxy, tmp):
        self.tool, self.store, self.proxy, self.tmp = tool, store, proxy, tmp
        self.s3 = boto3_client(store.endpoint)  # reads s3rver directly
        self.expected_mismatches = 0

    def run(self, *args, secret=SECRET_KEY, token=None, endpoint=None, attempts=4, extra=()):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=secret)
        env.pop("AWS_SESSION_TOKEN", None)
        if token:
            env["AWS_SESSION_TOKEN"] = token
        cmd = [self.tool, "--endpoint", endpoint or self.proxy.endpoint, "--bucket", BUCKET,
               "--attempts", str(attempts), "--backoff-ms", "20", "--backoff-max-ms", "200",
               *extra, *args]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        lines = out.stdout.splitlines()
        require(out.returncode in (0, 1) and lines,
                f"s3-tool {args[0]} exited {out.returncode}: {out.stdout} {out.stderr}")
        return out.returncode == 0, lines

    def file(self, name, size, seed):
        data = hashlib.shake_256(seed.encode()).digest(size)
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def read_back(self, key):
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def requests(self):
        return self.proxy.take_requests()


def case_put(env):
    key = "rec/caf\u00e9 take~1+(2).mkv"
    path, data = env.file("put.bin", 300 * 1024, "put")
    ok, lines = env.run("put", key, path)
    require(ok, f"PUT failed: {lines}")
    require(env.read_back(key) == data, "PUT object differs from what was sent")
    head = env.s3.head_object(Bucket=BUCKET, Key=key)
    require(head["ContentType"] == "video/x-matroska", f"content type {head['ContentType']}")
    reqs = env.requests()
    require([(r["method"], r["status"]) for r in reqs] == [("PUT", 200)], f"requests: {reqs}")
    require(reqs[0]["path"] == f"/{BUCKET}/{key}", f"path on the wire: {reqs[0]['path']}")


def case_session_token(env):
    """Temporary credentials: x-amz-security-token sent and signed."""
    key = "rec/token.mkv"
    path, data = env.file("token.bin", 2000, "token")
    ok, lines = env.run("put", key, path, token="FwoGZXIvYXdzEXAMPLE//token+/=")
    require(ok and env.read_back(key) == data, f"PUT with a session token: {lines}")
    require(len(env.requests()) == 1, "not one request")


def case_multipart(env):
    key = "rec/multi part.mkv"
    size = 2 * 5 * MiB + 123457
    path, data = env.file("multi.bin", size, "multipart")
    ok, lines = env.run("multipart", key, path, str(5 * MiB), "2,3,1")
    require(ok, f"multipart failed: {lines}")
    back = env.read_back(key)
    require(len(back) == size and back == data,
            f"multipart object differs: {len(back)} bytes read back, {size} sent")
    reqs = env.requests()
    seen = [(r["method"], r["query"].split("&")[0] if "partNumber" not in r["query"]
             else [q for q in r["query"].split("&") if q.startswith("partNumber")][0])
            for r in reqs]
    require(seen == [("POST", "uploads"), ("PUT", "partNumber=2"), ("PUT", "partNumber=3"),
                     ("PUT", "partNumber=1"), ("POST", seen[-1][1])]
            and seen[-1][1].startswith("uploadId="), f"requests: {seen}")
    require(all(r["status"] == 200 for r in reqs), f"statuses: {reqs}")


def case_concurrent_parts(env):
    """Parts 2 and 3 in flight at once on one client (one of them failing
    once), then part 1: each signed and retried on its own."""
    key = "rec/concurrent.mkv"
    size = 2 * 5 * MiB + 4321
    path, data = env.file("concurrent.bin", size, "concurrent")
    env.proxy.inject(500, "InternalError", method="PUT", query="partNumber=3")
    ok, lines = env.run("multipart", key, path, str(5 * MiB), "2+3,1")
    require(ok, f"concurrent multipart failed: {lines}")
    require(env.read_back(key) == data, "concurrent multipart object differs")
    parts = [r for r in env.requests() if "partNumber" in r["query"]]
    require(len(parts) == 4 and parts[-1]["query"].find("partNumber=1") >= 0
            and sum(r["outcome"] == "injected 500 InternalError" for r in parts) == 1,
            f"part requests: {parts}")


def case_retries(env):
    """500 twice on a part, SlowDown on create, a dropped connection on
    complete: all retried, the upload succeeds, the object is right."""
    key = "rec/retried.mkv"
    path, data = env.file("retry.bin", 5 * MiB + 1000, "retry")
    env.proxy.inject(503, "SlowDown", method="POST", query="uploads")
    env.proxy.inject(500, "InternalError", count=2, method="PUT", query="partNumber=2")
    env.proxy.drop(method="POST", query="uploadId")
    ok, lines = env.run("multipart", key, path, str(5 * MiB), "2,1")
    require(ok, f"retried multipart failed: {lines}")
    require(env.read_back(key) == data, "retried multipart object differs")
    outcomes = [(r["method"], r["outcome"]) for r in env.requests()]
    want = [("POST", "injected 503 SlowDown"), ("POST", "forwarded"),
            ("PUT", "injected 500 InternalError"), ("PUT", "injected 500 InternalError"),
            ("PUT", "forwarded"), ("PUT", "forwarded"),
            ("POST", "dropped"), ("POST", "forwarded")]
    require(outcomes == want, f"requests: {outcomes}")

    # throttling (429) and S3's RequestTimeout (400) are transient too
    env.proxy.inject(429, "TooManyRequests", method="PUT")
    env.proxy.inject(400, "RequestTimeout", method="PUT")
    ok, lines = env.run("put", "rec/throttled.mkv", path)
    require(ok and env.read_back("rec/throttled.mkv") == data, f"429/RequestTimeout: {lines}")
    outcomes = [r["outcome"] for r in env.requests()]
    require(outcomes == ["injected 429 TooManyRequests", "injected 400 RequestTimeout",
                         "forwarded"], f"requests: {outcomes}")

    # a PUT that meets 503 SlowDown on every attempt gives up after --attempts
    env.proxy.inject(503, "SlowDown", count=3, method="PUT")
    ok, lines = env.run("put", "rec/never.mkv", path, attempts=3)
    require(not ok and lines[0].startswith("error SERVER") and "SlowDown" in lines[0]
            and "after 3 attempts" in lines[0], f"exhausted retries: {lines}")
    require(len(env.requests()) == 3, "not exactly 3 attempts")

    # nobody answering at all: a network error after every attempt
    env.proxy.set_down(True)
    ok, lines = env.run("put", "rec/never.mkv", path, attempts=2)
    env.proxy.set_down(False)
    require(not ok and lines[0].startswith("error NETWORK"), f"store down: {lines}")
    require(len(env.requests()) >= 2, "fewer than 2 attempts while down")


def case_cancel(env):
    """A cancel while waiting out a backoff ends the operation at once."""
    path, _ = env.file("small.bin", 1000, "small")
    env.proxy.set_down(True)
    t0 = time.monotonic()
    ok, lines = env.run("put-cancel", "rec/cancelled.mkv", path, "300", attempts=6,
                        extra=("--backoff-ms", "10000", "--backoff-max-ms", "10000"))
    took = time.monotonic() - t0
    env.proxy.set_down(False)
    require(not ok and lines[0].startswith("error OTHER cancelled:"), f"cancel: {lines}")
    require(took < 5, f"cancel took {took:.1f} s (the backoff was not interrupted)")
    env.requests()


def case_rejected(env):
    """4xx other than SlowDown (and 3xx): no retry, S3's Code reaches the caller."""
    path, _ = env.file("small.bin", 1000, "small")
    env.proxy.inject(403, "AccessDenied", method="PUT")
    ok, lines = env.run("put", "rec/denied.mkv", path)
    require(not ok and lines[0].startswith("error REJECTED") and "403 AccessDenied" in lines[0],
            f"403: {lines}")
    reqs = env.requests()
    require(len(reqs) == 1, f"a 403 was retried: {reqs}")
    # S3's redirects (wrong region; a new bucket's DNS): reported, not
    # followed with a signature made for another URL
    for status, code in ((301, "PermanentRedirect"), (307, "TemporaryRedirect")):
        env.proxy.inject(status, code, method="PUT")
        ok, lines = env.run("put", "rec/moved.mkv", path)
        require(not ok and lines[0].startswith("error REJECTED")
                and f"{status} {code}" in lines[0], f"{status}: {lines}")
        require(len(env.requests()) == 1, f"a {status} was followed or retried")


def case_complete_error(env):
    """CompleteMultipartUpload answered 200 with an <Error> inside: an error
    (retried like a 500; reported when it persists), then aborted."""
    key = "rec/complete-error.mkv"
    path, data = env.file("ce.bin", 1000, "complete-error")
    env.proxy.inject(200, "InternalError", count=2, method="POST", query="uploadId")
    ok, lines = env.run("multipart", key, path, str(5 * MiB), "1", attempts=2)
    require(not ok and lines[0].startswith("error SERVER complete:")
            and "200 InternalError" in lines[0], f"200 with <Error>: {lines}")
    # s3rver answers AbortMultipartUpload with 405 (design.md): reported as is
    require(len(lines) == 2 and lines[1].startswith("error REJECTED abort:")
            and "405 MethodNotAllowed" in lines[1], f"abort after failure: {lines}")
    outcomes = [(r["method"], r["outcome"]) for r in env.requests()]
    require(outcomes[-3:] == [("POST", "injected 200 InternalError")] * 2
            + [("DELETE", "forwarded")], f"requests: {outcomes}")
    # once only: the retry completes it
    env.proxy.inject(200, "InternalError", count=1, method="POST", query="uploadId")
    ok, lines = env.run("multipart", key, path, str(5 * MiB), "1", attempts=2)
    require(ok and env.read_back(key) == data, f"complete after a 200 error: {lines}")
    env.requests()


def case_abort(env):
    # s3rver: 405 for every abort; the client says so instead of pretending
    ok, lines = env.run("abort", "rec/x.mkv", "no-such-upload-id")
    require(not ok and lines[0].startswith("error REJECTED") and "405" in lines[0],
            f"abort against s3rver: {lines}")
    # what S3 itself answers for an unknown or finished upload: done
    env.proxy.inject(404, "NoSuchUpload", method="DELETE")
    ok, lines = env.run("abort", "rec/x.mkv", "no-such-upload-id")
    require(ok, f"404 NoSuchUpload not counted as done: {lines}")
    # any other 404 is not
    env.proxy.inject(404, "NoSuchKey", method="DELETE")
    ok, lines = env.run("abort", "rec/x.mkv", "no-such-upload-id")
    require(not ok and lines[0].startswith("error REJECTED") and "NoSuchKey" in lines[0],
            f"404 NoSuchKey: {lines}")
    reqs = env.requests()
    require([r["query"] for r in reqs] == ["uploadId=no-such-upload-id"] * 3, f"requests: {reqs}")
    # no upload id: refused before anything is sent
    ok, lines = env.run("abort", "rec/x.mkv", "")
    require(not ok and lines[0].startswith("error OTHER") and "no upload id" in lines[0],
            f"abort without an upload id: {lines}")
    require(not env.requests(), "a request was sent for an abort without an upload id")


def case_wrong_secret(env):
    path, _ = env.file("small.bin", 1000, "small")
    ok, lines = env.run("put", "rec/wrong-key.mkv", path, secret="not-the-secret")
    env.expected_mismatches += 1
    require(not ok and lines[0].startswith("error REJECTED")
            and "403 SignatureDoesNotMatch" in lines[0], f"wrong secret: {lines}")
    reqs = env.requests()
    require(len(reqs) == 1 and reqs[0]["outcome"] == "signature-mismatch", f"requests: {reqs}")


def case_config(env):
    ok, lines = env.run("url", "k", endpoint="ftp://127.0.0.1/")
    require(not ok and lines[0].startswith("error CONFIG"), f"ftp endpoint: {lines}")
    # credentials in the endpoint are refused without being echoed (the
    # message reaches the log, the master and the client)
    for endpoint in ("http://AKID:s3cr3t-in-url@127.0.0.1:1/", "http://AKID:s3cr3t-in-url@[::1"):
        ok, lines = env.run("url", "k", endpoint=endpoint)
        require(not ok and lines[0].startswith("error CONFIG")
                and "s3cr3t-in-url" not in "\n".join(lines), f"endpoint with credentials: {lines}")
    ok, lines = env.run("url", "k", extra=("--bucket", ""))
    require(not ok and lines[0].startswith("error CONFIG") and "bucket" in lines[0],
            f"no bucket: {lines}")
    ok, lines = env.run("url", "k", extra=("--prefix", "rec/../"))
    require(not ok and lines[0].startswith("error CONFIG") and "prefix" in lines[0],
            f"prefix with '..': {lines}")
    # "." and ".." segments would be normalised away by the URL parser
    path, _ = env.file("small.bin", 10, "small")
    for key in ("rec/../other.mkv", "rec/./x.mkv", "rec/..", ""):
        ok, lines = env.run("put", key, path)
        require(not ok and lines[0].startswith("error OTHER") and "segment" in lines[0],
                f"key {key!r}: {lines}")
    require(not env.requests(), "a request was sent for an unusable key")
    ok, lines = env.run("url", "a b.mkv", extra=("--prefix", "rec/"))
    require(ok and lines[0] == f"ok {env.proxy.endpoint}/{BUCKET}/rec/a%20b.mkv rec/a b.mkv",
            f"path-style URL: {lines}")
    # AWS addressing (no endpoint): virtual-hosted; only computed, nothing sent
    out = subprocess.run([env.tool, "--bucket", "b", "--region", "eu-west-1", "url", "k/x y"],
                         capture_output=True, text=True,
                         env=dict(os.environ, AWS_ACCESS_KEY_ID="A", AWS_SECRET_ACCESS_KEY="S"))
    require(out.stdout.strip() == "ok https://b.s3.eu-west-1.amazonaws.com/k/x%20y k/x y",
            f"virtual-hosted URL: {out.stdout}")


CASES = [case_put, case_session_token, case_multipart, case_concurrent_parts, case_retries,
         case_cancel, case_rejected, case_complete_error, case_abort, case_wrong_secret,
         case_config]


def main() -> int:
    tool = os.path.abspath(sys.argv[1])
    failed = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wv-s3-client-") as tmp, S3rver(BUCKET) as store:
        proxy = S3Proxy(store.endpoint, ACCESS_KEY, SECRET_KEY).start()
        env = Env(tool, store, proxy, tmp)
        try:
            for case in CASES:
                t0 = time.monotonic()
                try:
                    case(env)
                    print(f"PASS {case.__name__} ({time.monotonic() - t0:.1f} s)")
                except CaseFailed as e:
                    failed += 1
                    print(f"FAIL {case.__name__}: {e}")
                    env.requests()
            if proxy.mismatches != env.expected_mismatches or proxy.violations:
                failed += 1
                print(f"FAIL verification: {proxy.mismatches} signature mismatches "
                      f"(expected {env.expected_mismatches}, the wrong-key requests), "
                      f"{proxy.violations} payload/framing violations")
            else:
                print(f"PASS every request verified by botocore ({proxy.mismatches} mismatches, "
                      f"all from the wrong key)")
        finally:
            proxy.stop()
    print(f"{len(CASES) + 1 - failed} passed, {failed} failed in "
          f"{time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
