#!/bin/sh
# tests/browser/run-browser.sh - meson's entry point for the real-browser tests.
#
#   tests/browser/run-browser.sh chromium|firefox --master PATH --worker PATH [--client]
#
# As root, re-executes itself inside a private network namespace
# (tests/lib/netns.sh), starts the master there (--listen 10.77.0.1:PORT
# --ice-address 10.77.0.1, a temporary storage dir, --log-level debug), runs
# record.mjs (the browser, via playwright-core or puppeteer-core from
# tests/browser/node_modules, installed by `packaging/install-deps --test`)
# and judges each recording with check.py (ffprobe through
# tests/lib/recorder_client.py).  On failure the master's log is shown and the
# temporary directory (JSON results with offer/answer SDP, recordings, log)
# is kept.  Exit: 0 passed, 1 failed, 77 skipped (not root).
#
# Cases: Chromium records its default offer (VP8), then H.264 and VP9 forced
# with setCodecPreferences; Firefox its default offer (VP8), then VP9 forced
# (Debian's Firefox ESR cannot send H.264: that needs the OpenH264 plugin,
# which Firefox downloads at run time).
# --client runs the cases of the server's own browser files instead
# (record.mjs: client, loopback, proxy, admin): the master listens on
# 0.0.0.0 inside the namespace with --admin-auth (a PBKDF2 hash) and
# --static-dir master/www, and the browser reaches it as
# http://127.0.0.1:PORT, a secure context, so that /admin may use the camera;
# ICE still runs over tv0/tv1.  Debian's nginx, started here on 127.0.0.1,
# proxies http://127.0.0.1:PROXYPORT/wv/ to it (the proxy case loads
# client.js from there; --public-url makes every videoUrl go through it).
# Chromium runs all four, Firefox all but admin.
# BROWSER_TEST_CASES overrides the list (comma-separated: default,H264,VP9);
# BROWSER_TEST_KEEP=1 keeps the work dir after a pass too; BROWSER_TEST_SECONDS
# changes how long each case records (default 4).
set -u
here=$(dirname "$(readlink -f "$0")")
RECORD_SECONDS=${BROWSER_TEST_SECONDS:-4}

browser=${1:-}
[ "$#" -gt 0 ] && shift
master="" worker="" client=""
while [ "$#" -gt 0 ]; do
    case "$1" in
    --master) master=$2; shift 2 ;;
    --worker) worker=$2; shift 2 ;;
    --client) client=--client; shift ;;
    *) echo "run-browser.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$browser" in
chromium) exe=/usr/bin/chromium; default_cases=default,H264,VP9 ;;
firefox) exe=/usr/bin/firefox-esr; default_cases=default,VP9 ;;
*) echo "usage: $0 chromium|firefox --master PATH --worker PATH" >&2; exit 2 ;;
esac
if [ -z "$master" ] || [ -z "$worker" ]; then
    echo "usage: $0 $browser --master PATH --worker PATH" >&2
    exit 2
fi
if [ -n "$client" ]; then
    default_cases=client,loopback,proxy
    [ "$browser" = chromium ] && default_cases=client,loopback,proxy,admin
fi
cases=${BROWSER_TEST_CASES:-$default_cases}
[ -n "$client" ] && RECORD_SECONDS=${BROWSER_TEST_SECONDS:-3}

if [ "${WV_BROWSER_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "browser-$browser: skipped: needs root for unshare -n and a veth pair"
        exit 77
    fi
    # Anything else missing is a failure: packaging/install-deps --test installs it.
    missing=""
    for tool in node ffprobe ffmpeg unshare ip curl; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    [ -x "$exe" ] || missing="$missing $exe"
    [ -d "$here/node_modules/playwright-core" ] && [ -d "$here/node_modules/puppeteer-core" ] ||
        missing="$missing tests/browser/node_modules"
    /usr/bin/python3 -c 'import aiortc' 2>/dev/null || missing="$missing python3-aiortc"
    [ -z "$client" ] || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
    if [ -n "$missing" ]; then
        echo "browser-$browser: FAIL: missing:$missing (run packaging/install-deps --test)"
        exit 1
    fi
    master=$(readlink -f "$master")
    worker=$(readlink -f "$worker")
    exec "$here/../lib/netns.sh" env WV_BROWSER_NETNS=1 "$0" "$browser" \
        --master "$master" --worker "$worker" $client
fi

# ---- inside the namespace ----
server_ip=${NETNS_SERVER_IP:-10.77.0.1}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wv-browser-$browser.XXXXXX")
log="$tmp/master.log"
master_pid=""
nginx_pid=""

cleanup() {
    if [ -n "$nginx_pid" ]; then
        kill -TERM "$nginx_pid" 2>/dev/null
        wait "$nginx_pid" 2>/dev/null
    fi
    if [ -n "$master_pid" ]; then
        # setsid made the master a process-group leader: its group is the
        # master and the workers it forked, nothing else.
        kill -TERM "$master_pid" 2>/dev/null
        i=0
        while kill -0 "$master_pid" 2>/dev/null && [ "$i" -lt 30 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL -- "-$master_pid" 2>/dev/null
        wait "$master_pid" 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

show_log() {
    echo "---- master log ($log, last 150 lines) ----"
    tail -n 150 "$log"
    echo "---- end of master log; everything is kept in $tmp ----"
}

port=$(/usr/bin/python3 -c 'import socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$server_ip")
listen="$server_ip:$port"
http_url="http://$server_ip:$port"
set --
if [ -n "$client" ]; then
    # The admin password as an operator would store it: a PBKDF2 hash
    # (fewer iterations than the default, to keep the test quick).
    admin_password=$(/usr/bin/python3 -c 'import secrets; print(secrets.token_hex(8))')
    admin_hash=$(/usr/bin/python3 -c 'import hashlib, secrets, sys
s = secrets.token_hex(8); i = 50000
print("pbkdf2:sha256:%d$%s$%s" % (i, s, hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), s.encode(), i).hex()))' "$admin_password")
    listen="0.0.0.0:$port"
    http_url="http://127.0.0.1:$port"
    # Seed 000's layout behind a reverse proxy, under a path prefix:
    # Debian's nginx on 127.0.0.1 passes /wv/... to the server's /...,
    # websockets included; videoUrl goes through it too (--public-url).
    proxy_port=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    proxy_url="http://127.0.0.1:$proxy_port/wv"
    mkdir -p "$tmp/nginx"
    cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 64; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$proxy_port;
        location /wv/ {
            proxy_pass http://127.0.0.1:$port/;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_read_timeout 120s;
        }
    }
}
EOF
    /usr/sbin/nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" </dev/null >"$tmp/nginx/stderr" 2>&1 &
    nginx_pid=$!
    set -- --admin-auth "admin:$admin_hash" --static-dir "$here/../../master/www" \
        --public-url "$proxy_url"
fi
# The master forks its workers; setsid keeps them in their own group.
setsid "$master" --listen "$listen" --ice-address "$server_ip" \
    --storage-dir "$tmp/storage" --worker-path "$worker" --workers 4 \
    --log-level debug --control-socket "$tmp/control.sock" "$@" </dev/null >"$log" 2>&1 &
master_pid=$!

i=0
until curl -sf -o /dev/null "$http_url/ping"; do
    i=$((i + 1))
    if [ "$i" -gt 100 ] || ! kill -0 "$master_pid" 2>/dev/null; then
        echo "FAIL browser-$browser: the master did not answer /ping"
        show_log
        exit 1
    fi
    sleep 0.2
done
echo "browser-$browser: master $server_ip:$port (pid $master_pid), work dir $tmp"

status=0
set --
if [ -n "$client" ]; then
    if ! curl -sf -o /dev/null "$proxy_url/ping"; then
        echo "FAIL browser-$browser: nginx does not pass $proxy_url/ping on:"
        cat "$tmp/nginx/stderr" "$tmp/nginx/error.log" 2>/dev/null
        exit 1
    fi
    set -- --http "$http_url" --proxy "$proxy_url" --admin "admin:$admin_password"
fi
node "$here/record.mjs" "$browser" --ws "ws://$server_ip:$port/api/recorder" \
    --out "$tmp" --seconds "$RECORD_SECONDS" --cases "$cases" "$@" || status=1
# Judge every case that left a result, including the failed ones (their
# offer and answer SDP are worth seeing).
set --
for case in $(echo "$cases" | tr ',' ' '); do
    if [ -e "$tmp/$browser-$case.json" ]; then
        set -- "$@" "$tmp/$browser-$case.json"
    else
        echo "FAIL $browser/$case: record.mjs left no result"
        status=1
    fi
done
/usr/bin/python3 "$here/check.py" "$@" || status=1

if kill -0 "$master_pid" 2>/dev/null; then
    i=0
    while :; do
        sessions=$(curl -sf "$http_url/sessions" || echo "?")
        [ "$sessions" = 0 ] || [ "$i" -ge 25 ] && break
        i=$((i + 1))
        sleep 0.2
    done
    if [ "$sessions" != 0 ]; then
        echo "FAIL browser-$browser: /sessions is '$sessions' after every case ended"
        status=1
    fi
else
    echo "FAIL browser-$browser: the master died"
    status=1
fi

if [ "$status" != 0 ]; then
    show_log
    exit 1
fi
echo "browser-$browser: all cases passed ($cases)"
if [ -n "${BROWSER_TEST_KEEP:-}" ]; then
    echo "browser-$browser: kept $tmp"
else
    rm -rf "$tmp"
fi
exit 0
