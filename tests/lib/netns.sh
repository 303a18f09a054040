#!/bin/sh
# tests/lib/netns.sh - run a command inside a fresh, private network namespace.
#
# Usage: tests/lib/netns.sh COMMAND [ARG]...
#
# The namespace is made with `unshare -n` (needs root or CAP_SYS_ADMIN) and
# holds only:
#   lo   up (127.0.0.1)
#   tv0  10.77.0.1/24 -- the server side      (veth pair; names deliberately
#   tv1  10.77.0.2/24 -- the client side       do not start with "veth", which
#                                               libnice ignores)
#   default route via tv0 (Firefox gathers no ICE candidate without one)
#   accept_local=1, rp_filter=0 (see below: libnice sends through tv0)
# Nothing in it links to the outside world, so no test packet can leave it.
# The namespace dies with the command; COMMAND's exit status is returned.
#
# Environment overrides: NETNS_SERVER_ADDR, NETNS_CLIENT_ADDR (default the
# addresses above, /24).  The addresses are exported to COMMAND as
# NETNS_SERVER_IP and NETNS_CLIENT_IP.
set -eu

if [ "$#" -lt 1 ]; then
    echo "usage: $0 COMMAND [ARG]..." >&2
    exit 2
fi

if [ "${NETNS_INSIDE:-}" != 1 ]; then
    # Re-execute ourselves in a new network namespace.
    NETNS_INSIDE=1 exec unshare --net -- "$0" "$@"
fi
unset NETNS_INSIDE

server_addr=${NETNS_SERVER_ADDR:-10.77.0.1/24}
client_addr=${NETNS_CLIENT_ADDR:-10.77.0.2/24}

ip link set lo up
ip link add tv0 type veth peer name tv1
ip addr add "$server_addr" dev tv0
ip addr add "$client_addr" dev tv1
ip link set tv0 up
ip link set tv1 up
ip route add default dev tv0

# libnice 0.1.21 pins each UDP socket to its interface (IP_UNICAST_IF), so
# the server's packets to 10.77.0.2 really leave through tv0 and arrive on
# tv1 carrying a source address that is local to this namespace. Linux drops
# such packets (and the ARP that precedes them) as martians unless
# accept_local is set and reverse-path filtering is off.
for conf in all default tv0 tv1; do
    echo 1 > "/proc/sys/net/ipv4/conf/$conf/accept_local"
    echo 0 > "/proc/sys/net/ipv4/conf/$conf/rp_filter"
done

# Wait (at most 5 s) until both links have carrier and no IPv4 address is
# tentative, so that binding to them cannot fail. (IPv6 link-local addresses
# may still be in duplicate address detection; the tests use IPv4 only.)
i=0
while [ "$i" -lt 50 ]; do
    if ! ip -4 -o addr show tentative | grep -q . &&
       ip -o link show tv0 | grep -q 'state UP' &&
       ip -o link show tv1 | grep -q 'state UP'; then
        break
    fi
    i=$((i + 1))
    sleep 0.1
done

NETNS_SERVER_IP=${server_addr%/*}
NETNS_CLIENT_IP=${client_addr%/*}
export NETNS_SERVER_IP NETNS_CLIENT_IP
exec "$@"
