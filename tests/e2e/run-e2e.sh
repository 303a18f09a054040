#!/bin/sh
# tests/e2e/run-e2e.sh - meson's entry point for the e2e suite.
#
# Runs test_recorder.py with Debian's /usr/bin/python3 (the interpreter that
# has aiortc 1.4) inside a private network namespace (tests/lib/netns.sh).
# Arguments go to test_recorder.py (--master PATH --worker PATH ...), or to
# the script named by a first `--script NAME`.
# Exits 77 (meson: skipped) where the suite cannot run: not root, or no aiortc.
here=$(dirname "$(readlink -f "$0")")

if [ "$(id -u)" != 0 ]; then
    echo "e2e: skipped: needs root for unshare -n and a veth pair"
    exit 77
fi
if ! /usr/bin/python3 -c 'import aiortc, websockets' 2>/dev/null; then
    echo "e2e: skipped: /usr/bin/python3 lacks aiortc or websockets (python3-aiortc, python3-websockets)"
    exit 77
fi
for tool in ffprobe ffmpeg unshare ip; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "e2e: skipped: $tool not found"
        exit 77
    fi
done
script=test_recorder.py
if [ "${1:-}" = "--script" ]; then # another script of this directory (test_www.py)
    script=$2
    shift 2
fi
exec "$here/../lib/netns.sh" /usr/bin/python3 "$here/$script" "$@"
