#!/usr/bin/env bash
# demo.sh: the local demo network. Builds myco, starts five daemons on
# 127.0.0.1, shows each one's peers, and stops everything it started.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

n=5
cleanup() { "$TESTNET_DIR/down.sh" >/dev/null || true; }
trap cleanup EXIT

echo "== building myco"
build_myco
"$MYCO" version

echo "== starting $n daemons on 127.0.0.1, all bootstrapped to node 0"
"$TESTNET_DIR/up.sh" "$n"

echo "== who is node 0"
"$MYCO" --repo "$(node_repo 0)" id

# Bootstrapping is asynchronous: give every node up to 10 s to reach node 0.
for ((i = 1; i < n; i++)); do
	for ((t = 0; t < 100; t++)); do
		[ -n "$("$MYCO" --repo "$(node_repo "$i")" peers)" ] && break
		sleep 0.1
	done
done

fail=0
for ((i = 0; i < n; i++)); do
	peers=$("$MYCO" --repo "$(node_repo "$i")" peers)
	count=$(printf '%s' "$peers" | grep -c . || true)
	echo "== node $i has $count peer(s):"
	printf '%s\n' "$peers" | sed 's/^/   /'
	[ "$count" -ge 1 ] || fail=1
done
[ "$(printf '%s\n' "$("$MYCO" --repo "$(node_repo 0)" peers)" | grep -c .)" -eq $((n - 1)) ] || fail=1

echo "== stopping the network"
cleanup
trap - EXIT
[ "$fail" -eq 0 ] || die "some node did not connect"
echo "demo finished: $n nodes met through node 0"
