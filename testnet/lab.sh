#!/usr/bin/env bash
# lab.sh: a closed network lab of Linux network namespaces with a myco
# daemon (network dev) on each node, for trying myco across NATs by hand.
# The Go tests build the same topology with testnet/lab.
#
#   lab.sh up [HOME=KIND ...]   build the lab and start the daemons; the
#                               default homes are cone=cone symmetric=symmetric
#                               firewall=firewall open=open
#   lab.sh exec NODE CMD ...    run CMD in NODE's namespace; "myco" stands for
#                               the lab's binary with NODE's repo, so
#                               `lab.sh exec cone myco peers` asks cone's daemon
#   lab.sh cap HOME RATE        cap HOME's uplink to RATE (tc rate: 1mbit, 500kbit)
#   lab.sh status               list the nodes, their addresses and daemons
#   lab.sh down                 stop the daemons it started (by PID) and delete
#                               the namespaces it made (by name, from its list)
#   lab.sh ruleset KIND         print the nftables ruleset of a KIND router
#
# Topology (every namespace is named mycolab-sh<PID of up>-NAME):
#
#                 inet: bridge br0 11.0.113.1/24, routes to public LANs
#        +-------------+---------------+----------------+
#   pub-bootstrap   pub-relay      rt-HOME (wan 11.0.113.(100+k))   ...
#   11.0.113.11    11.0.113.12       | lan
#                                    HOME: the home's host, LAN address .2
#
#   The k-th home's router is of a KIND:
#     cone       masquerading NAT that keeps the source port when it can;
#                LAN 192.168.k.0/24
#     symmetric  NAT with a new random external port per destination
#                (masquerade random,fully-random); LAN 192.168.k.0/24
#     firewall   no NAT; inbound connections are dropped unless they answer
#                the home's own traffic; LAN 11.51.100.16k/28 (public)
#     open       no NAT, no filter; LAN 11.51.100.16k/28 (public)
#   Every router drops (never rejects) unsolicited packets to its own
#   addresses, as home routers do. The inet namespace routes each public LAN
#   to its router and every router and public node has its default route
#   through 11.0.113.1. The daemons listen on TCP and QUIC port 4001 and
#   bootstrap to pub-bootstrap; their DHT is in auto mode (a server once
#   AutoNAT finds them public). The public nodes offer a circuit relay
#   that also carries file data (at most 10 MB/s) between homes that
#   cannot punch through; every home keeps a reservation on pub-relay and
#   hole-punches (DCUtR) to other homes where the NATs allow it.
#
# The lab's addresses are in 11.0.0.0/8, a block routed on the real internet,
# on purpose: libp2p treats the documentation ranges (203.0.113.0/24,
# 198.51.100.0/24) as unroutable and never hole-punches toward them. No
# packet reaches the real 11.0.0.0/8 from the lab: see below.
#
# No lab namespace has a link into the machine's own network namespace (each
# veth pair is made inside the lab), so no packet leaves the lab: its
# public addresses reach only the lab's hosts. It
# needs root, ip, tc and nftables; it installs nftables with apt-get when
# missing. netem is not available, so the lab has no delay or loss, only
# rate caps (tc tbf).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_DIR=${MYCO_LAB_DIR:-$TESTNET_DIR/.lab}
PORT=4001

die() { echo "lab: $*" >&2; exit 1; }

usage() {
	sed -n '5,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# ruleset KIND: the nftables ruleset of a KIND router, the same as
# testnet/lab's Ruleset (its test compares them).
ruleset() {
	local forward="" nat=""
	case "$1" in
	cone) nat='oifname "wan" masquerade' ;;
	symmetric) nat='oifname "wan" masquerade random,fully-random' ;;
	firewall) ;;
	open) forward='iifname "wan" oifname "lan" accept' ;;
	*) die "unknown kind $1 (cone, symmetric, firewall or open)" ;;
	esac
	cat <<EOF
table inet lab {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iifname "lo" accept
		iifname "lan" accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		$forward
	}
}
EOF
	[ -z "$nat" ] || cat <<EOF
table ip labnat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		$nat
	}
}
EOF
}

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces and nftables); run it with sudo"
	command -v ip >/dev/null || die "ip (iproute2) is not installed"
	command -v tc >/dev/null || die "tc (iproute2) is not installed"
}

need_nft() {
	command -v nft >/dev/null && return
	command -v apt-get >/dev/null || die "nft is not installed and there is no apt-get to install nftables"
	echo "lab: installing nftables" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables; } >&2 ||
		die "nft is not installed and apt-get could not install nftables"
	command -v nft >/dev/null || die "nftables installed but nft is not on PATH"
}

# nsx NS CMD...: run CMD in namespace NS.
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# addns NAME: make namespace PREFIX-NAME, record it for down, loopback up.
addns() {
	ip netns add "$PREFIX$1"
	echo "$PREFIX$1" >>"$LAB_DIR/namespaces"
	nsx "$PREFIX$1" ip link set lo up
}

# plug NAME DEV PORT ADDR: link namespace NAME (as DEV) to the internet
# bridge (as PORT). The pair is made inside inet, its peer moved straight
# into NAME: it never exists in the machine's own namespace.
plug() {
	local ns=$PREFIX$1 inet=${PREFIX}inet
	nsx "$inet" ip link add "$3" type veth peer name "$2" netns "$ns"
	nsx "$inet" ip link set "$3" master br0
	nsx "$inet" ip link set "$3" up
	nsx "$ns" ip addr add "$4/24" dev "$2"
	nsx "$ns" ip link set "$2" up
	nsx "$ns" ip route add default via 11.0.113.1
}

# node NAME NS ADDR KIND: record a node that runs a daemon.
node() { echo "$1 $2 $3 $4" >>"$LAB_DIR/nodes"; }

# lookup NAME: print NAME's namespace, or fail.
lookup() {
	[ -f "$LAB_DIR/nodes" ] || die "no lab is up (start one with lab.sh up)"
	local name ns rest
	while read -r name ns rest; do
		[ "$name" = "$1" ] && { echo "$ns"; return; }
	done < <(cat "$LAB_DIR/nodes" "$LAB_DIR/routers")
	die "no node $1 (see lab.sh status; a home's router is HOME-router)"
}

# start NAME [BOOTSTRAP]: init NAME's repo and start its daemon in its
# namespace; the PID recorded is the daemon's (ip netns exec execs it).
# start NAME BOOTSTRAP RELAY: init NAME's repo and run its daemon. A public
# node (no RELAY) offers a relay that carries data; a home keeps a
# reservation on RELAY. Both
# run their DHT in auto mode: a server once AutoNAT finds them public.
start() {
	local name=$1 ns repo=$LAB_DIR/$1 i pid relay
	ns=$(lookup "$name")
	"$MYCO" --repo "$repo" init --network dev >"$LAB_DIR/$name.init" </dev/null
	relay='"relay": {"service": true, "carry_data": true, "carry_rate": "10M"}'
	[ -z "${3:-}" ] || relay='"relay": {"static": ["'"$3"'"]}'
	sed -i 's|"dht": {}|"dht": {"mode": "auto"}|; s|"relay": {}|'"$relay"'|' "$repo/config.json"
	local args=(--repo "$repo" daemon --api 127.0.0.1:0 --listen "/ip4/0.0.0.0/tcp/$PORT" --listen "/ip4/0.0.0.0/udp/$PORT/quic-v1")
	[ -z "${2:-}" ] || args+=(--bootstrap "$2")
	ip netns exec "$ns" "$MYCO" "${args[@]}" >"$LAB_DIR/$name.log" 2>"$LAB_DIR/$name.err" </dev/null &
	pid=$!
	echo "$pid" >>"$LAB_DIR/pids"
	for ((i = 0; i < 600; i++)); do
		grep -q "daemon ready" "$LAB_DIR/$name.log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$LAB_DIR/$name.err" >&2; die "$name's daemon exited before it was ready"; }
		sleep 0.1
	done
	die "$name's daemon not ready after 60 s"
}

up() {
	need_root
	need_nft
	[ ! -s "$LAB_DIR/namespaces" ] || die "a lab is already up in $LAB_DIR (remove it with lab.sh down)"
	local homes=("$@")
	[ ${#homes[@]} -gt 0 ] || homes=(cone=cone symmetric=symmetric firewall=firewall open=open)
	[ ${#homes[@]} -le 15 ] || die "at most 15 homes"
	local h
	for h in "${homes[@]}"; do
		[[ "$h" =~ ^[a-z][a-z0-9]{0,15}=(cone|symmetric|firewall|open)$ ]] || die "bad home $h (want NAME=KIND, KIND one of cone, symmetric, firewall, open)"
	done
	build_myco
	rm -rf "$LAB_DIR"
	mkdir -p "$LAB_DIR"
	PREFIX=mycolab-sh$$-
	echo "$PREFIX" >"$LAB_DIR/prefix"
	: >"$LAB_DIR/namespaces"
	: >"$LAB_DIR/nodes"
	: >"$LAB_DIR/routers"
	: >"$LAB_DIR/pids"
	# Whatever ends up early (a failed command, die) removes what it made.
	trap 'echo "lab: up failed; removing what it made" >&2; down' EXIT

	addns inet
	nsx "${PREFIX}inet" ip link add br0 type bridge
	nsx "${PREFIX}inet" ip addr add 11.0.113.1/24 dev br0
	nsx "${PREFIX}inet" ip link set br0 up
	nsx "${PREFIX}inet" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.br0.send_redirects=0

	local i=0 name
	for name in bootstrap relay; do
		i=$((i + 1))
		addns "pub-$name"
		plug "pub-$name" eth0 "p$i" "11.0.113.$((10 + i))"
		node "$name" "${PREFIX}pub-$name" "11.0.113.$((10 + i))" public
	done

	local k=0 kind wan gw host bits net
	for h in "${homes[@]}"; do
		k=$((k + 1))
		name=${h%%=*} kind=${h#*=}
		wan=11.0.113.$((100 + k))
		case "$kind" in
		firewall | open) net=11.51.100.$((16 * k)) gw=11.51.100.$((16 * k + 1)) host=11.51.100.$((16 * k + 2)) bits=28 ;;
		*) net=192.168.$k.0 gw=192.168.$k.1 host=192.168.$k.2 bits=24 ;;
		esac
		addns "rt-$name"
		addns "$name"
		plug "rt-$name" wan "h$k" "$wan"
		nsx "${PREFIX}rt-$name" ip link add lan type veth peer name eth0 netns "$PREFIX$name"
		nsx "${PREFIX}rt-$name" ip addr add "$gw/$bits" dev lan
		nsx "${PREFIX}rt-$name" ip link set lan up
		nsx "${PREFIX}rt-$name" sysctl -qw net.ipv4.ip_forward=1
		ruleset "$kind" | nsx "${PREFIX}rt-$name" nft -f -
		nsx "$PREFIX$name" ip addr add "$host/$bits" dev eth0
		nsx "$PREFIX$name" ip link set eth0 up
		nsx "$PREFIX$name" ip route add default via "$gw"
		case "$kind" in
		firewall | open) nsx "${PREFIX}inet" ip route add "$net/$bits" via "$wan" ;;
		esac
		node "$name" "$PREFIX$name" "$host" "$kind(wan:$wan)"
		echo "$name-router ${PREFIX}rt-$name" >>"$LAB_DIR/routers"
	done

	start bootstrap
	local id
	id=$(sed -n 's/^peer id: //p' "$LAB_DIR/bootstrap.init")
	[ -n "$id" ] || die "no peer id in $LAB_DIR/bootstrap.init"
	local boot=/ip4/11.0.113.11/tcp/$PORT/p2p/$id
	start relay "$boot"
	id=$(sed -n 's/^peer id: //p' "$LAB_DIR/relay.init")
	[ -n "$id" ] || die "no peer id in $LAB_DIR/relay.init"
	local relay=/ip4/11.0.113.12/tcp/$PORT/p2p/$id
	local rest
	while read -r name rest; do
		case "$name" in
		bootstrap | relay) ;;
		*) start "$name" "$boot" "$relay" ;;
		esac
	done <"$LAB_DIR/nodes"
	trap - EXIT
	status
	echo "try: $0 exec cone myco id (private with relay addrs within a minute); remove it all with: $0 down"
}

down() {
	trap - EXIT
	[ -d "$LAB_DIR" ] || { echo "lab: nothing to remove (no $LAB_DIR)"; return 0; }
	need_root
	local pid i prefix ns stopped=0 removed=0
	if [ -f "$LAB_DIR/pids" ]; then
		while read -r pid; do [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true; done <"$LAB_DIR/pids"
		while read -r pid; do
			[ -n "$pid" ] || continue
			for ((i = 0; i < 100; i++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$pid" 2>/dev/null; then
				echo "lab: pid $pid did not stop within 10 s; killing it" >&2
				kill -KILL "$pid" 2>/dev/null || true
			fi
			stopped=$((stopped + 1))
		done <"$LAB_DIR/pids"
	fi
	prefix=$(cat "$LAB_DIR/prefix" 2>/dev/null || true)
	if [ -n "$prefix" ] && [ -f "$LAB_DIR/namespaces" ]; then
		# Newest first: hosts and routers before the internet.
		while read -r ns; do
			case "$ns" in
			"$prefix"*) ip netns del "$ns" 2>/dev/null && removed=$((removed + 1)) || echo "lab: could not delete namespace $ns" >&2 ;;
			esac
		done < <(tac "$LAB_DIR/namespaces")
	fi
	rm -rf "$LAB_DIR"
	echo "lab: stopped $stopped daemons, deleted $removed namespaces"
}

status() {
	[ -f "$LAB_DIR/nodes" ] || { echo "lab: no lab is up"; return 0; }
	need_root
	local name ns addr kind pid n=0
	mapfile -t pids <"$LAB_DIR/pids"
	printf '%-12s %-16s %-34s %s\n' NODE ADDRESS KIND DAEMON
	while read -r name ns addr kind; do
		pid=${pids[$n]:-}
		n=$((n + 1))
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then pid="pid $pid"; else pid="not running"; fi
		printf '%-12s %-16s %-34s %s\n' "$name" "$addr" "$kind" "$pid"
	done <"$LAB_DIR/nodes"
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case "$cmd" in
up) up "$@" ;;
down) down ;;
status) status ;;
exec)
	[ $# -ge 2 ] || usage
	need_root
	node_name=$1
	shift
	ns=$(lookup "$node_name")
	if [ "$1" = myco ]; then
		shift
		set -- "$MYCO" --repo "$LAB_DIR/$node_name" "$@"
	fi
	exec ip netns exec "$ns" "$@"
	;;
cap)
	[ $# -eq 2 ] || usage
	need_root
	ns=$(lookup "$1-router")
	ip netns exec "$ns" tc qdisc replace dev wan root tbf rate "$2" burst 32kb latency 100ms
	echo "lab: $1's uplink capped to $2"
	;;
ruleset)
	[ $# -eq 1 ] || usage
	ruleset "$1"
	;;
*) usage ;;
esac
