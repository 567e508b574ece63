#!/usr/bin/env bash
# demo.sh: the whole mission on one machine. Builds myco, starts five dev
# daemons on 127.0.0.1, shares a file on one, publishes it under a name,
# mines until that is confirmed, resolves and fetches it by name on another
# (with a progress bar), sends a transfer and shows the balances, verifies
# the proof of existence, and stops everything it started. Any failed step
# stops the demo with a non-zero exit.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=5
cleanup() { "$TESTNET_DIR/down.sh" >/dev/null || true; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
m() { local i=$1; shift; "$MYCO" --repo "$(node_repo "$i")" "$@"; }
height() { m "$1" chain status --json | grep -o '"height": *[0-9]*' | grep -o '[0-9]*$'; }

step "building myco"
build_myco
"$MYCO" version

step "starting $n daemons on 127.0.0.1, all bootstrapped to node 0"
"$TESTNET_DIR/up.sh" "$n"

# Bootstrapping is asynchronous: give every node up to 10 s to reach node 0.
for ((i = 1; i < n; i++)); do
	for ((t = 0; t < 100; t++)); do
		[ -n "$(m "$i" peers)" ] && break
		sleep 0.1
	done
	[ -n "$(m "$i" peers)" ] || die "node $i has no peers"
done
for ((i = 0; i < n; i++)); do
	echo "node $i: $(m "$i" peers | grep -c .) peer(s), $(m "$i" dht peers | grep -c .) in its DHT routing table"
done

step "node 1 mines"
m 1 mine start --threads 1
m 1 chain wait 10 >/dev/null
m 1 chain status

step "node 1 shares a file"
file="$RUN_DIR/hello-myco.bin"
{ echo "hello from myco, $(date -u)"; head -c $((24 << 20)) /dev/urandom; } >"$file"
cid=$(m 1 share "$file")
echo "shared $(wc -c <"$file") bytes as $cid"

step "node 1 publishes it under the name myco-demo (commitment, then claim)"
tx=$(m 1 publish "$cid" --name myco-demo)
echo "claim transaction $tx"
m 1 chain wait $(($(height 1) + 2)) >/dev/null
echo "confirmed at height $(height 1)"

step "node 3 resolves the name (its chain came by gossip and sync)"
m 3 chain wait "$(height 1)" >/dev/null
resolved=$(m 3 resolve myco-demo)
echo "myco-demo -> $resolved"
[ "$resolved" = "$cid" ] || die "node 3 resolved myco-demo to $resolved, not $cid"

step "node 3 fetches it by name from the swarm"
m 3 fetch myco-demo -o "$RUN_DIR/fetched.bin" --progress
cmp "$file" "$RUN_DIR/fetched.bin" || die "the fetched file differs from the shared one"
echo "the fetched file is identical to the shared one"

step "node 1 sends 250000 base units to node 3"
to=$(m 3 wallet address)
m 1 send "$to" 250000 --fee 100
m 1 chain wait $(($(height 1) + 2)) >/dev/null
m 3 chain wait "$(height 1)" >/dev/null
echo "node 1:"; m 1 wallet balance
echo "node 3:"; m 3 wallet balance
m 3 wallet balance --json | grep -q '"balance": 250000' || die "node 3 did not receive the transfer"

step "node 4 verifies the proof of existence"
m 4 chain wait "$(height 1)" >/dev/null
m 4 verify "$cid"

step "stopping the network"
m 1 mine stop >/dev/null
cleanup
trap - EXIT
echo "demo finished: shared, published, resolved, fetched, paid and verified across $n nodes"
