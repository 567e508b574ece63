#!/usr/bin/env bash
# down.sh: stop exactly the daemons that up.sh started (by the PIDs it
# recorded), waiting for each to exit; after 10 s, SIGQUIT (its goroutines'
# stacks go to its log of errors, to show where it was stuck), then
# SIGKILL.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pids_file="$RUN_DIR/pids"
[ -f "$pids_file" ] || { echo "testnet: nothing to stop (no $pids_file)"; exit 0; }
mapfile -t pids <"$pids_file"
for pid in "${pids[@]}"; do
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
done
stopped=0
for pid in "${pids[@]}"; do
	[ -n "$pid" ] || continue
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "testnet: pid $pid did not stop within 10 s; its goroutines go to its node's .err log in $RUN_DIR; killing it" >&2
		quit_dump "$pid"
		kill -KILL "$pid" 2>/dev/null
	fi
	stopped=$((stopped + 1))
done
: >"$pids_file"
echo "stopped $stopped myco daemons"
