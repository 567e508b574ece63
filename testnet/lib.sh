# Shared by the testnet scripts: where runs live, and how to build myco.
# shellcheck shell=bash

TESTNET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$TESTNET_DIR/.." && pwd)
# RUN_DIR holds one repo per node, their logs, and the PIDs of the daemons
# that up.sh started (and that down.sh stops).
RUN_DIR=${MYCO_RUN_DIR:-$TESTNET_DIR/.run}
MYCO=${MYCO_BIN:-$ROOT_DIR/bin/myco}

die() { echo "testnet: $*" >&2; exit 1; }

build_myco() {
	if [ -z "${MYCO_BIN:-}" ]; then
		command -v go >/dev/null || die "go is not installed (https://go.dev/dl/)"
		local rev
		rev=$(git -C "$ROOT_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
		(cd "$ROOT_DIR" && go build -ldflags "-X github.com/myco-p2p/myco/node.buildCommit=$rev" -o "$MYCO" ./cmd/myco) || die "build failed"
	fi
	[ -x "$MYCO" ] || die "no myco binary at $MYCO"
}

# node_repo I: the repo of node I.
node_repo() { echo "$RUN_DIR/node$1"; }

# wait_ready I PID: wait until node I's daemon prints "daemon ready", or fail
# if its process dies or 60 s pass. A daemon still not ready then is sent
# SIGQUIT, so that Go writes every goroutine's stack to its log of errors
# (node I.err): where it is stuck.
wait_ready() {
	local log="$RUN_DIR/node$1.log" pid=$2 i
	for ((i = 0; i < 600; i++)); do
		grep -q "daemon ready" "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$RUN_DIR/node$1.err" >&2; die "node $1 exited before it was ready"; }
		sleep 0.1
	done
	quit_dump "$pid"
	die "node $1 not ready after 60 s; its goroutines are in $RUN_DIR/node$1.err"
}

# quit_dump PID: send a daemon SIGQUIT (Go writes every goroutine's stack to
# its stderr and exits) and wait up to 5 s for it to exit.
quit_dump() {
	local i
	kill -QUIT "$1" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
}

# json_first_addr: read `myco id --json` on stdin and print its first
# loopback TCP address, with no dependency beyond the shell.
json_first_addr() {
	# The addrs array of `myco id --json`: the first /ip4/127.0.0.1/tcp one.
	grep -o '"/ip4/127.0.0.1/tcp/[^"]*"' | head -n 1 | tr -d '"'
}
