#!/usr/bin/env bash
# up.sh N: start N myco daemons (network dev) on 127.0.0.1 with free ports,
# each in its own repo under testnet/.run, all bootstrapped to the first.
# Stop them with down.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=${1:-5}
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 64 ] || die "usage: up.sh N (1 to 64 nodes)"
if [ -f "$RUN_DIR/pids" ] && [ -s "$RUN_DIR/pids" ]; then
	die "a testnet is already up in $RUN_DIR (stop it with testnet/down.sh)"
fi
build_myco
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
: >"$RUN_DIR/pids"

boot=""
for ((i = 0; i < n; i++)); do
	repo=$(node_repo "$i")
	"$MYCO" --repo "$repo" init --network dev >/dev/null
	args=(--repo "$repo" daemon --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0 --listen /ip4/127.0.0.1/udp/0/quic-v1)
	[ -n "$boot" ] && args+=(--bootstrap "$boot")
	"$MYCO" "${args[@]}" ${MYCO_DAEMON_ARGS:-} >"$RUN_DIR/node$i.log" 2>"$RUN_DIR/node$i.err" &
	pid=$!
	echo "$pid" >>"$RUN_DIR/pids"
	wait_ready "$i" "$pid"
	if [ -z "$boot" ]; then
		boot=$("$MYCO" --repo "$repo" id --json | json_first_addr)
		[ -n "$boot" ] || die "node 0 has no loopback TCP address"
	fi
done

echo "started $n myco daemons (network dev), run directory $RUN_DIR"
for ((i = 0; i < n; i++)); do
	repo=$(node_repo "$i")
	echo "node $i: pid $(sed -n "$((i + 1))p" "$RUN_DIR/pids"), api $(cat "$repo/api"), try: $MYCO --repo $repo peers"
done
echo "stop them with: $TESTNET_DIR/down.sh"
