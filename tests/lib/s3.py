"""tests/lib/s3.py - s3rver (npm s3rver@3.7.1) for the S3 tests, and boto3.

    from s3 import S3rver, boto3_client

    with S3rver(bucket="recordings") as store:      # 127.0.0.1, free port, temp dir
        store.endpoint                               # "http://127.0.0.1:PORT"
        s3 = boto3_client(store.endpoint)
        s3.get_object(Bucket="recordings", Key=k)["Body"].read()
        store.stop(); store.start()                  # S3 down and back: same port, same data

s3rver comes from tests/s3/node_modules (`packaging/install-deps --test` runs
`npm ci` there); nothing is downloaded at test time.  Platform facts
(/work/shared/design.md): s3rver accepts any SigV4 signature without checking
it (tests/lib/s3proxy.py re-verifies them), answers AbortMultipartUpload and
ListParts with 405, and treats unknown host names as bucket names, so it is
addressed as 127.0.0.1, path-style, with its built-in keys S3RVER/S3RVER.
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
REGION = "us-east-1"

_HERE = os.path.dirname(os.path.abspath(__file__))
S3RVER_JS = os.path.join(_HERE, "..", "s3", "node_modules", "s3rver", "bin", "s3rver.js")
_LISTENING = re.compile(r"S3rver listening on [^:]+:(\d+)")


class S3rverError(Exception):
    """s3rver did not start (missing node_modules, port taken, crashed)."""


class S3rver:
    """One s3rver process on 127.0.0.1 with a data directory and one bucket.

    The first start() binds a free port (s3rver's -p 0, port read from its
    banner: no race with other tests); later start()s reuse that port and
    directory, so stop()/start() is "S3 went down and came back"."""

    def __init__(self, bucket: str = "recordings", directory: str | None = None,
                 host: str = "127.0.0.1"):
        if not os.path.exists(S3RVER_JS):
            raise S3rverError(f"{S3RVER_JS} missing: run packaging/install-deps --test")
        self.bucket = bucket
        self.host = host
        self.port = 0
        self._own_dir = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="wv-s3rver-")
        self.proc = None
        self.log = []  # s3rver's output lines, for a failing test's report

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "S3rver":
        if self.proc is not None:
            return self
        args = ["node", S3RVER_JS, "-d", self.directory, "-a", self.host, "-p", str(self.port),
                "--configure-bucket", self.bucket]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        port = self._wait_banner(timeout)
        self.port = port
        # keep draining its output so it never blocks on a full pipe
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        return self

    def _wait_banner(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        found = {}

        def read():
            for line in self.proc.stdout:
                self.log.append(line.rstrip())
                m = _LISTENING.search(line)
                if m:
                    found["port"] = int(m.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if "port" not in found:
            self.stop()
            raise S3rverError("s3rver did not start: " + " | ".join(self.log[-10:]))
        return found["port"]

    def _drain(self, proc):
        for line in proc.stdout:
            self.log.append(line.rstrip())
            del self.log[:-200]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "S3rver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def boto3_client(endpoint: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY,
                 region: str = REGION):
    """A real S3 client (Debian python3-boto3), path-style, for reading back
    what the server uploaded."""
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))
