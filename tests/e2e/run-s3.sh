#!/bin/sh
# tests/e2e/run-s3.sh - meson's entry point for the S3 storage e2e tests.
#
# Runs test_s3_store.py with Debian's /usr/bin/python3 (aiortc, boto3,
# botocore) inside a private network namespace (tests/lib/netns.sh); s3rver
# and the verifying proxy run in there on 127.0.0.1.  Exits 77 (skipped,
# which the suite counts as a failure) where it cannot run.
here=$(dirname "$(readlink -f "$0")")

if [ "$(id -u)" != 0 ]; then
    echo "e2e-s3: skipped: needs root for unshare -n and a veth pair"
    exit 77
fi
if ! /usr/bin/python3 -c 'import aiortc, websockets, boto3, botocore' 2>/dev/null; then
    echo "e2e-s3: skipped: /usr/bin/python3 lacks aiortc, websockets, boto3 or botocore"
    exit 77
fi
if [ ! -d "$here/../s3/node_modules/s3rver" ] || ! command -v node >/dev/null 2>&1; then
    echo "e2e-s3: skipped: no s3rver (run packaging/install-deps --test)"
    exit 77
fi
exec "$here/../lib/netns.sh" /usr/bin/python3 "$here/test_s3_store.py" "$@"
