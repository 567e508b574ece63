#!/usr/bin/env bash
# bench.sh: measure myco on real daemons over loopback and print one table:
# what, figure, reference measured in the same run, ratio, target.
#
#   testnet/bench.sh            # every benchmark
#   BENCH_NODES=8 testnet/bench.sh
#   BENCH_LAB=0 testnet/bench.sh  # without the NAT lab rows (they need root
#                                 # and nftables, and take about 8 minutes)
#
# It starts its own network (under a run directory of its own) and stops it;
# the NAT lab benchmarks build their own labs and remove them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

nodes=${BENCH_NODES:-8}
export MYCO_RUN_DIR=${MYCO_RUN_DIR:-$TESTNET_DIR/.run-bench}
RUN_DIR=$MYCO_RUN_DIR
rows=()

# row WHAT FIGURE REFERENCE RATIO TARGET
row() { rows+=("$1|$2|$3|$4|$5"); }
# print_table TITLE: the rows so far, as a table whose first column is TITLE;
# then the rows are forgotten, so the next section starts a table of its own.
print_table() {
	local r what fig ref ratio target
	printf '\n%-100s | %-20s | %-20s | %-6s | %s\n' "$1" "figure" "reference" "ratio" "target"
	printf '%s\n' "$(printf -- '-%.0s' {1..160})"
	for r in "${rows[@]}"; do
		IFS='|' read -r what fig ref ratio target <<<"$r"
		printf '%-100s | %-20s | %-20s | %-6s | %s\n' "$what" "$fig" "$ref" "$ratio" "$target"
	done
	rows=()
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# metric OUTPUT BENCH UNIT: the value of UNIT on the line of benchmark BENCH.
metric() { grep -E "^Benchmark$2-[0-9]+ " <<<"$1" | grep -oE "[0-9.]+ $3([[:space:]]|$)" | head -n1 | cut -d' ' -f1; }

cleanup() { "$TESTNET_DIR/down.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

build_myco
export MYCO_BIN=$MYCO

# --- DHT: routing tables and findprovs on $nodes daemons -------------------
echo "== starting $nodes daemons for the DHT benchmarks" >&2
"$TESTNET_DIR/up.sh" "$nodes" >/dev/null
t0=$(now_ms)
for ((i = 0; i < nodes; i++)); do
	for ((k = 0; k < 300; k++)); do
		size=$("$MYCO" --repo "$(node_repo "$i")" dht stat --json | grep -o '"routing_table_size": *[0-9]*' | grep -o '[0-9]*$')
		[ "$size" -ge $((nodes - 1)) ] && break
		sleep 0.05
	done
	[ "$size" -ge $((nodes - 1)) ] || die "node $i's routing table has $size of $((nodes - 1)) peers after 15 s"
done
fill_ms=$(($(now_ms) - t0))
row "DHT: every routing table full ($nodes daemons, after the last is ready)" "${fill_ms} ms" "-" "-" "within seconds"

# findprovs of a root shared just before, asked from every other node.
lat=()
for ((i = 1; i < nodes; i++)); do
	f="$RUN_DIR/fresh$i"
	head -c 65536 /dev/urandom >"$f"
	c=$("$MYCO" --repo "$(node_repo 0)" share "$f")
	t0=$(now_ms)
	got=$("$MYCO" --repo "$(node_repo "$i")" dht findprovs --num 1 --timeout 10s "$c")
	lat+=($(($(now_ms) - t0)))
	[ "$got" = "$("$MYCO" --repo "$(node_repo 0)" id --json | grep -o '"id": *"[^"]*"' | head -n1 | grep -o '12D3[^"]*')" ] ||
		die "node $i: findprovs $c returned '$got', not node 0"
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
p50=$(echo "$sorted" | sed -n "$(((${#lat[@]} + 1) / 2))p")
worst=$(echo "$sorted" | tail -n 1)
ratio=$(awk -v a="$worst" 'BEGIN { printf "%.2f", a / 1000 }')
row "DHT: findprovs of a fresh root, from each of $((nodes - 1)) nodes (p50 / worst, incl. CLI start)" "${p50} / ${worst} ms" "1000 ms target" "$ratio" "< 1 s"

# --- swarm: one seeder to one leecher, 512 MiB, against one raw libp2p stream
# peak_rss_mib PID: the process's peak resident set (VmHWM) in MiB.
peak_rss_mib() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
pid_of() { sed -n "$(($1 + 1))p" "$RUN_DIR/pids"; }
fetch_seconds() { grep -o '"seconds": *[0-9.e-]*' | grep -oE '[0-9.e-]+$'; }

echo "== swarm: 512 MiB from one seeder to one leecher" >&2
big="$RUN_DIR/big.bin"
head -c $((512 << 20)) /dev/urandom >"$big"
sync "$big" # its writeback would otherwise run during the fetch
c=$("$MYCO" --repo "$(node_repo 0)" share "$big")
secs=$("$MYCO" --repo "$(node_repo 1)" fetch "$c" -o "$RUN_DIR/big.out" --json | fetch_seconds)
cmp -s "$big" "$RUN_DIR/big.out" || die "the fetched 512 MiB file differs"
rate=$(awk -v s="$secs" 'BEGIN { printf "%.0f", 512 * 1048576 / s / 1e6 }')
rss0=$(peak_rss_mib "$(pid_of 0)")
rss1=$(peak_rss_mib "$(pid_of 1)")
# The same fetch into memory (tmpfs), to tell the swarm from this disk.
shmrate=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	"$MYCO" --repo "$(node_repo 1)" rm "$c" >/dev/null
	shm="/dev/shm/myco-bench-$$.out"
	secs=$("$MYCO" --repo "$(node_repo 1)" fetch "$c" -o "$shm" --json | fetch_seconds)
	cmp -s "$big" "$shm" || die "the fetched 512 MiB file (tmpfs) differs"
	"$MYCO" --repo "$(node_repo 1)" rm "$c" >/dev/null
	rm -f "$shm"
	shmrate=$(awk -v s="$secs" 'BEGIN { printf "%.0f", 512 * 1048576 / s / 1e6 }')
fi
# What this disk takes to write 512 MiB, with nothing else to do.
t0=$(now_ms)
dd if=/dev/zero of="$RUN_DIR/dd.out" bs=1M count=512 conv=fdatasync 2>/dev/null
disk=$(awk -v ms="$(($(now_ms) - t0))" 'BEGIN { printf "%.0f", 512 * 1048576 / (ms / 1000) / 1e6 }')
rm -f "$RUN_DIR/dd.out"
# The same around the page cache, as the fetch writes its aligned leaves.
t0=$(now_ms)
ddirect="-"
if dd if=/dev/zero of="$RUN_DIR/dd.out" bs=1M count=512 oflag=direct conv=fdatasync 2>/dev/null; then
	ddirect=$(awk -v ms="$(($(now_ms) - t0))" 'BEGIN { printf "%.0f", 512 * 1048576 / (ms / 1000) / 1e6 }')
fi
rm -f "$big" "$RUN_DIR/big.out" "$RUN_DIR/dd.out"
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'Transfer/64MiB' -benchtime 1x ./swarm)
raw=$(metric "$out" "Transfer/64MiB" "raw-MB/s")
row "swarm: 512 MiB, 1 seeder -> 1 leecher, written to disk (daemons on loopback)" "${rate} MB/s" "${raw%.*} MB/s raw stream" \
	"$(awk -v a="$rate" -v b="$raw" 'BEGIN{printf "%.2f", a/b}')" ">= 0.25x raw (anacrolix 0.19x, kubo 0.035x)"
row "  reference: this disk writes 512 MiB (dd, fdatasync; page cache / O_DIRECT)" "${disk} / ${ddirect} MB/s" "${raw%.*} MB/s raw stream" \
	"$(awk -v a="$disk" -v b="$raw" 'BEGIN{printf "%.2f", a/b}')" "the ceiling for the row above"
if [ -n "$shmrate" ]; then
	# tmpfs has no device to write around: every page of the file is
	# allocated, and on a VM that returns free memory to its host each
	# fresh page is faulted in from the host (see chunker/direct.go). So
	# this row measures the machine's memory more than the swarm.
	row "  the same fetch written to tmpfs (/dev/shm: pages allocated in RAM)" "${shmrate} MB/s" "${raw%.*} MB/s raw stream" \
		"$(awk -v a="$shmrate" -v b="$raw" 'BEGIN{printf "%.2f", a/b}')" "- (for comparison)"
fi
row "swarm: peak RSS of the seeder / the leecher during the disk fetch" "${rss0} / ${rss1} MiB" "-" "-" "<= 96 MiB (target 64)"

# --- swarm: a seeder capped at 20 MB/s, six leechers at once, 48 MiB -------
echo "== swarm: 6 leechers at once from a 20 MB/s seeder" >&2
f48="$RUN_DIR/f48.bin"
head -c $((48 << 20)) /dev/urandom >"$f48"
"$MYCO" --repo "$(node_repo 0)" swarm limits --max-upload 20M >/dev/null
c=$("$MYCO" --repo "$(node_repo 0)" share "$f48")
t0=$(now_ms)
"$MYCO" --repo "$(node_repo 1)" fetch "$c" -o "$RUN_DIR/solo.out" --json >/dev/null
solo=$(($(now_ms) - t0))
head -c $((48 << 20)) /dev/urandom >"$f48.b" # another file: nobody has it yet
c2=$("$MYCO" --repo "$(node_repo 0)" share "$f48.b")
t0=$(now_ms)
pids=()
for ((i = 2; i < 8 && i < nodes; i++)); do
	"$MYCO" --repo "$(node_repo "$i")" fetch "$c2" -o "$RUN_DIR/six$i.out" --json >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a leecher's fetch failed"; done
six=$(($(now_ms) - t0))
for ((i = 2; i < 8 && i < nodes; i++)); do cmp -s "$f48.b" "$RUN_DIR/six$i.out" || die "leecher $i got different bytes"; done
rm -f "$f48" "$f48.b" "$RUN_DIR"/six*.out "$RUN_DIR/solo.out"
row "swarm: 48 MiB, seeder capped at 20 MB/s, ${#pids[@]} leechers at once (all done)" "${six} ms" "${solo} ms one leecher" \
	"$(awk -v a="$six" -v b="$solo" 'BEGIN{printf "%.2f", a/b}')" "<= 2.5x one leecher (client-server: 6x)"

# --- ledger on the network: block propagation across the daemons ----------
echo "== ledger: block propagation across $nodes daemons" >&2
"$MYCO" --repo "$(node_repo 0)" mine start >/dev/null
"$MYCO" --repo "$(node_repo 0)" chain wait 30 >/dev/null # past the dev chain's fast start
delays=()
for ((k = 0; k < 5; k++)); do
	h=$(($("$MYCO" --repo "$(node_repo 0)" chain status --json | grep -o '"height": *[0-9]*' | grep -o '[0-9]*$') + 1))
	for ((i = 0; i < nodes; i++)); do
		("$MYCO" --repo "$(node_repo "$i")" chain wait "$h" --timeout 60s >/dev/null && now_ms >"$RUN_DIR/arrive$i") &
	done
	wait
	t0=$(cat "$RUN_DIR/arrive0")
	last=$(cat "$RUN_DIR"/arrive* | sort -n | tail -n 1)
	delays+=($((last - t0)))
done
"$MYCO" --repo "$(node_repo 0)" mine stop >/dev/null
worst=$(printf '%s\n' "${delays[@]}" | sort -n | tail -n 1)
med=$(printf '%s\n' "${delays[@]}" | sort -n | sed -n 3p)
row "ledger: a mined block reaches all $nodes daemons (median / worst of 5, incl. CLI)" "${med} / ${worst} ms" "200 ms target" \
	"$(awk -v a="$worst" 'BEGIN{printf "%.2f", a/200}')" "< 200 ms to all"
cleanup

# --- swarm over a wide-area link (in process, mocknet) ---------------------
echo "== swarm: 64 MiB over a 50 ms, 100 Mbit/s mocknet link" >&2
out=$(cd "$ROOT_DIR" && go test -run '^$' -bench 'LinkRate/64MiB' -benchtime 1x ./swarm)
xl=$(metric "$out" "LinkRate/64MiB" "x-link")
xw=$(metric "$out" "LinkRate/64MiB" "x-link-worst")
linkmb=$(metric "$out" "LinkRate/64MiB" "link-MB/s")
row "swarm: 64 MiB, 1 seeder -> 1 leecher, mocknet link 50 ms each way, 100 Mbit/s (worst: setup counted twice)" \
	"$(awk -v a="$xl" -v b="$linkmb" 'BEGIN{printf "%.1f MB/s", a*b}')" "${linkmb} MB/s link" \
	"$(awk -v a="$xl" -v w="$xw" 'BEGIN{printf "%.2f (%.2f)", a, w}')" ">= 0.8x the link"

# --- NAT lab: real daemons behind routers in network namespaces ------------
# (issue 13; the lab needs root and nftables: testnet/lab.sh). Each
# benchmark builds its own lab (a bootstrap node, a relay, homes) and removes
# it. BENCH_LAB=0 skips this section.
lab_skip=""
if [ "${BENCH_LAB:-1}" = 0 ]; then
	lab_skip="BENCH_LAB=0"
elif [ "$(id -u)" != 0 ]; then
	lab_skip="not root"
elif ! command -v nft >/dev/null; then
	lab_skip="nft not installed (apt-get install nftables)"
fi
if [ -n "$lab_skip" ]; then
	echo "== NAT lab: skipped ($lab_skip)" >&2
	row "NAT lab rows (direct connection time, hole punching, fetch across NATs)" "skipped" "-" "-" "$lab_skip"
else
	echo "== NAT lab: direct connection, hole punching, fetch across NATs (about 8 minutes)" >&2
	out=$(cd "$ROOT_DIR" && go test -run '^$' -bench 'Lab(DirectConn|Punch|Fetch)$' -benchtime 1x -timeout 15m ./cmd/myco) ||
		{ echo "$out" >&2; die "the NAT lab benchmarks failed (their output is above)"; }
	med=$(metric "$out" "LabDirectConn" "start-ms")
	lo=$(metric "$out" "LabDirectConn" "min-start-ms")
	hi=$(metric "$out" "LabDirectConn" "max-start-ms")
	priv=$(metric "$out" "LabDirectConn" "private-ms")
	conn=$(metric "$out" "LabDirectConn" "connect-ms")
	n=$(metric "$out" "LabDirectConn" "direct")
	row "lab: start -> direct connection, 2 cone homes, fresh daemons (median / min / max of ${n%.*} of 10)" \
		"${med%.*} / ${lo%.*} / ${hi%.*} ms" "private ${priv%.*} ms; connect->direct ${conn%.*} ms" "-" "-"
	for pair in cone-cone cone-firewall cone-symmetric symmetric-symmetric; do
		ok=$(metric "$out" "LabPunch" "$pair-punched")
		t=$(metric "$out" "LabPunch" "$pair-ms" || true) # none when nothing punched
		fast=$(metric "$out" "LabPunch" "$pair-in-1s")
		ref="-"
		[ -z "$t" ] || ref="${t%.*} ms median, ${fast%.*} in 1 s"
		target="all (libp2p in the wild: ~0.7)"
		case $pair in *symmetric*) target="- (no port prediction: relay fallback)" ;; esac
		row "lab: hole punch $pair, direct within 20 s of connect via the relay" "${ok%.*} of 20" \
			"$ref" "$(awk -v a="$ok" 'BEGIN{printf "%.2f", a/20}')" "$target"
	done
	cone=$(metric "$out" "LabFetch" "cone-MB/s")
	open=$(metric "$out" "LabFetch" "open-MB/s")
	xo=$(metric "$out" "LabFetch" "x-open")
	row "lab: 256 MiB fetch between cone homes (hole-punched), uplinks capped at 100 Mbit/s" "${cone} MB/s" \
		"${open} MB/s open homes" "$(awk -v a="$xo" 'BEGIN{printf "%.2f", a}')" ">= 0.9x open"
	leftover=$(ip netns list | grep -c '^mycolab-' || true)
	[ "$leftover" = 0 ] || echo "== NAT lab: $leftover lab namespaces remain (another run?): ip netns list" >&2
fi

# --- ledger: sync speed of a late node (in process, mocknet) ---------------
echo "== ledger: sync speed of a late node" >&2
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'SyncVsLocal/blocks=2000' -benchtime 3x ./ledger/netsync)
syncr=$(metric "$out" "SyncVsLocal/blocks=2000" "sync-blocks/s")
localr=$(metric "$out" "SyncVsLocal/blocks=2000" "local-blocks/s")
row "ledger: late node syncs 2000 blocks from 3 peers (in process, mocknet)" "${syncr%.*} blocks/s" "${localr%.*} blocks/s local" \
	"$(awk -v a="$syncr" -v b="$localr" 'BEGIN{printf "%.2f", a/b}')" ">= 0.5x local connect"

# --- ledger: miner hash rate and block validation (Go benchmarks) ----------
echo "== ledger benchmarks" >&2
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'HeaderHash/plain-80B|MinerSolve/threads=1$' ./ledger)
plain=$(metric "$out" "HeaderHash/plain-80B" "hashes/s")
miner=$(metric "$out" "MinerSolve/threads=1" "hashes/s/thread")
row "ledger: miner hash rate per thread (midstate, 96-byte header)" "$(awk -v v="$miner" 'BEGIN{printf "%.2f MH/s", v/1e6}')" \
	"$(awk -v v="$plain" 'BEGIN{printf "%.2f MH/s plain", v/1e6}')" "$(awk -v a="$miner" -v b="$plain" 'BEGIN{printf "%.2f", a/b}')" ">= 1.0x plain 80-byte double SHA-256"
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'BlockValidation/txs=4000/workers' -benchtime 3x ./ledger)
one=$(metric "$out" "BlockValidation/txs=4000/workers=1" "tx/s")
two=$(metric "$out" "BlockValidation/txs=4000/workers=2" "tx/s")
row "ledger: block validation, 4000 transactions, 2 signature workers" "${two%.*} tx/s" "${one%.*} tx/s on 1" \
	"$(awk -v a="$two" -v b="$one" 'BEGIN{printf "%.2f", a/b}')" ">= 1.6x one core"

# --- content: import and export (Go benchmarks) ---------------------------
echo "== chunker benchmarks" >&2
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'SHA256$|Share/64MiB|Cat/64MiB' ./chunker)
sha=$(metric "$out" "SHA256" "MB/s")
share=$(metric "$out" "Share/64MiB" "MB/s")
cat=$(metric "$out" "Cat/64MiB" "MB/s")
row "content: share 64 MiB (import, hash, index by reference)" "${share%.*} MB/s" "${sha%.*} MB/s sha256, 1 core" \
	"$(awk -v a="$share" -v b="$sha" 'BEGIN{printf "%.2f", a/b}')" "hashing-bound: >= 0.5x one core"
row "content: cat 64 MiB (read, verify every block, stream)" "${cat%.*} MB/s" "${sha%.*} MB/s sha256, 1 core" \
	"$(awk -v a="$cat" -v b="$sha" 'BEGIN{printf "%.2f", a/b}')" "hashing-bound: >= 0.5x one core"

# --- DHT: lookups on a 50-node mocknet (Go benchmark) ----------------------
echo "== dht benchmark" >&2
out=$(cd "$ROOT_DIR" && go test -run XXX -bench 'FindProviders/first/lookup-only' -benchtime 200x ./dht)
p50=$(metric "$out" "FindProviders/first/lookup-only" "p50-ms")
p95=$(metric "$out" "FindProviders/first/lookup-only" "p95-ms")
msgs=$(metric "$out" "FindProviders/first/lookup-only" "msgs/lookup")
row "DHT: find the first provider, 50-node mocknet (p50 / p95; messages per lookup)" "${p50} / ${p95} ms; ${msgs}" "log2(50) = 5.6 rounds" "-" "O(log N) messages"

# === content: sharing many small files (issue 16; h-ipfs) ===================
# N files of 2 KiB, 100 per folder, shared through a daemon, against
# sha256sum over the same files (run first: it also brings them into the
# page cache for both). Anchor: kubo's `ipfs add -r` stored 5,000 such
# files in about 2.7 s on this machine (issue 16), 1,850 files/s.
echo "== content: sharing many small files" >&2
"$TESTNET_DIR/up.sh" 1 >/dev/null
for n in 5000 50000; do
	tree="$RUN_DIR/many$n"
	rm -rf "$tree"
	for ((d = 0; d < n / 100; d++)); do
		mkdir -p "$tree/d$d"
		head -c $((100 * 2048)) /dev/urandom | split -b 2048 -a 3 -d - "$tree/d$d/f"
	done
	sync
	t0=$(now_ms)
	find "$tree" -type f -print0 | xargs -0 sha256sum >/dev/null
	sha_ms=$(($(now_ms) - t0))
	t0=$(now_ms)
	"$MYCO" --repo "$(node_repo 0)" share "$tree" >/dev/null
	share_ms=$(($(now_ms) - t0))
	fps=$(awk -v n="$n" -v ms="$share_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
	sfps=$(awk -v n="$n" -v ms="$sha_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
	row "content: share $n files of 2 KiB, 100 per folder (incl. CLI; ${share_ms} ms)" "${fps} files/s" "${sfps} files/s sha256sum" \
		"$(awk -v a="$fps" -v b="$sfps" 'BEGIN{printf "%.2f", a/b}')" ">= kubo add -r: 1,850 files/s"
	rm -rf "$tree"
done
cleanup
# === end of the many-small-files section =====================================

# --- the table ----------------------------------------------------------------
print_table "what"

# === swarm: 1 GiB one-to-one against the CPU floor (issue 20; h-pipe) =======
# Two dev daemons of their own (TCP only, so the security transport is the
# one chosen), the file and the fetch on tmpfs (/dev/shm), so that no disk
# is in the way. Per fetch: MB/s, and each daemon's CPU-seconds per GiB from
# /proc/PID/stat (utime+stime) before and after. The CPU floor is what two
# cores allow: (seeder + leecher CPU-s per GiB) / 2 s per GiB; the fetch's
# MB/s is reported as a ratio to that floor. Three fetches each with TLS
# first (the default) and with Noise first (config security=noise), the
# figures the medians. The reference stream: one raw libp2p stream between
# two hosts in one process (node BenchmarkSecureStream), same transports.
echo "== swarm: 1 GiB one-to-one on tmpfs, against the CPU floor" >&2

pipe_dir=/dev/shm/myco-bench-pipe-$$
# cpu_ticks PID: utime+stime of the process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
pipe_pids=()
pipe_stop() {
	local p
	for p in "${pipe_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pipe_pids[@]}"; do
		for ((k = 0; k < 100; k++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
	done
	pipe_pids=()
}
# pipe_up SECURITY: start two daemons (node 0 seeds, node 1 fetches), TCP only.
pipe_up() {
	local i repo boot="" log
	rm -rf "$pipe_dir/node0" "$pipe_dir/node1"
	for i in 0 1; do
		repo="$pipe_dir/node$i"
		"$MYCO" --repo "$repo" init --network dev >/dev/null
		"$MYCO" --repo "$repo" config set security "$1" >/dev/null
		"$MYCO" --repo "$repo" config set log_level debug >/dev/null # for the stage timers
		args=(--repo "$repo" daemon --api 127.0.0.1:0 --listen /ip4/127.0.0.1/tcp/0)
		if [ -n "$boot" ]; then args+=(--bootstrap "$boot"); fi
		log="$pipe_dir/node$i.log"
		"$MYCO" "${args[@]}" >"$log" 2>"$pipe_dir/node$i.err" &
		pipe_pids+=($!)
		for ((k = 0; k < 600; k++)); do
			grep -q "daemon ready" "$log" 2>/dev/null && break
			kill -0 "${pipe_pids[$i]}" 2>/dev/null || { cat "$pipe_dir/node$i.err" >&2; die "pipe node $i exited"; }
			sleep 0.1
		done
		if [ -z "$boot" ]; then boot=$("$MYCO" --repo "$repo" id --json | json_first_addr); fi
	done
}
mkdir -p "$pipe_dir"
trap 'pipe_stop; rm -rf "$pipe_dir"; cleanup' EXIT
pipe_src="$pipe_dir/src.bin"
head -c $((1 << 30)) /dev/urandom >"$pipe_src"
# go_secs DURATION: a Go duration (1.5s, 350ms, 80µs) in seconds.
go_secs() {
	awk -v d="$1" 'BEGIN {
		m = 0
		if (d ~ /^[0-9]+m[0-9]/) { m = substr(d, 1, index(d, "m") - 1); d = substr(d, index(d, "m") + 1) }
		u = d; sub(/^[0-9.]+/, "", u); v = substr(d, 1, length(d) - length(u))
		f = (u == "ms") ? 1e-3 : (u == "µs" || u == "us") ? 1e-6 : (u == "ns") ? 1e-9 : 1
		printf "%.3f", 60 * m + v * f }'
}
# log_mark NODE: where NODE's two logs end now ("OUT ERR", in bytes), so that
# stage_line reads only what is logged after.
log_mark() { echo "$(stat -c %s "$pipe_dir/node$1.log") $(stat -c %s "$pipe_dir/node$1.err")"; }
# stage_line NODE KIND ROOT MARK: the "peer stages, KIND" line of NODE's
# session of ROOT logged after MARK (log_mark), waiting up to 10 s for it (a
# stream logs it when it ends, which can be after the fetch returns). Every
# fetch is of the same root, so MARK is what tells this fetch's line from an
# earlier one. Without the line it dies, rather than report an earlier
# fetch's stages or zeros.
stage_line() {
	local out err line k
	read -r out err <<<"$4"
	for ((k = 0; k < 100; k++)); do
		line=$({ tail -c +$((out + 1)) "$pipe_dir/node$1.log"; tail -c +$((err + 1)) "$pipe_dir/node$1.err"; } |
			grep -F "peer stages, $2" | grep -F " root=$3 " | tail -n 1) || true
		if [ -n "$line" ]; then
			echo "$line"
			return
		fi
		sleep 0.1
	done
	die "node $1 logged no \"peer stages, $2\" line for $3 within 10 s of the fetch"
}
# stage LINE KEY: KEY of a "peer stages" line (stage_line), in seconds.
stage() {
	local v
	v=$(grep -o " $2=[^ ]*" <<<"$1" | cut -d= -f2) || true
	[ -n "$v" ] || die "no $2 in the stage line: $1"
	go_secs "$v"
}
# pipe_run SECURITY: three fetches; sets pipe_mbs, pipe_seed, pipe_leech
# (medians: MB/s, seeder and leecher CPU-s per GiB), pipe_sec (the
# connection's security protocol as the leecher reports it).
pipe_run() {
	local k secs m0 m1 recv serve s0 l0 s1 l1 tck mbs=() sc=() lc=() c
	tck=$(getconf CLK_TCK)
	pipe_up "$1"
	c=$("$MYCO" --repo "$pipe_dir/node0" share "$pipe_src")
	for ((k = 0; k < 3; k++)); do
		s0=$(cpu_ticks "${pipe_pids[0]}")
		l0=$(cpu_ticks "${pipe_pids[1]}")
		m0=$(log_mark 0)
		m1=$(log_mark 1)
		secs=$("$MYCO" --repo "$pipe_dir/node1" fetch "$c" -o "$pipe_dir/out.bin" --json | fetch_seconds)
		s1=$(cpu_ticks "${pipe_pids[0]}")
		l1=$(cpu_ticks "${pipe_pids[1]}")
		cmp -s "$pipe_src" "$pipe_dir/out.bin" || die "the fetched 1 GiB file differs"
		[ "$k" != 0 ] || pipe_sec=$("$MYCO" --repo "$pipe_dir/node1" peers --json | grep -o '"security": *"[^"]*"' | head -n1 | cut -d'"' -f4)
		# The stream ends (and logs its stages) once both hold everything:
		# this fetch's lines, before the next fetch of the same root.
		recv=$(stage_line 1 receiving "$c" "$m1")
		serve=$(stage_line 0 serving "$c" "$m0")
		"$MYCO" --repo "$pipe_dir/node1" rm "$c" >/dev/null
		rm -f "$pipe_dir/out.bin"
		mbs+=("$(awk -v s="$secs" 'BEGIN { printf "%.1f", 1073741824 / s / 1e6 }')")
		sc+=("$(awk -v a="$s0" -v b="$s1" -v t="$tck" 'BEGIN { printf "%.3f", (b - a) / t }')")
		lc+=("$(awk -v a="$l0" -v b="$l1" -v t="$tck" 'BEGIN { printf "%.3f", (b - a) / t }')")
		echo "   $1: ${mbs[-1]} MB/s, seeder ${sc[-1]} CPU-s, leecher ${lc[-1]} CPU-s" >&2
	done
	# The last fetch's stages, one assignment a line so that a failing
	# stage stops the script (set -e sees only a line's last substitution).
	pipe_net=$(stage "$recv" net)
	pipe_store=$(stage "$recv" store)
	pipe_read=$(stage "$serve" read)
	pipe_write=$(stage "$serve" write)
	pipe_idle=$(stage "$serve" idle)
	pipe_secs=$secs
	pipe_stop
	pipe_mbs=$(median3 "${mbs[@]}")
	pipe_seed=$(median3 "${sc[@]}")
	pipe_leech=$(median3 "${lc[@]}")
}
pipe_run noise
n_mbs=$pipe_mbs n_seed=$pipe_seed n_leech=$pipe_leech n_sec=$pipe_sec
pipe_run tls
t_mbs=$pipe_mbs t_seed=$pipe_seed t_leech=$pipe_leech t_sec=$pipe_sec
rm -rf "$pipe_dir"
out=$(cd "$ROOT_DIR" && go test -run '^$' -bench 'SecureStream' -benchtime 2x ./node)
raw_t=$(metric "$out" "SecureStream/tls" "MB/s")
raw_n=$(metric "$out" "SecureStream/noise" "MB/s")
rawcpu_t=$(metric "$out" "SecureStream/tls" "cpu-s/GiB")
rawcpu_n=$(metric "$out" "SecureStream/noise" "cpu-s/GiB")
floor_t=$(awk -v a="$t_seed" -v b="$t_leech" 'BEGIN { printf "%.0f", 1073.741824 / ((a + b) / 2) }')
floor_n=$(awk -v a="$n_seed" -v b="$n_leech" 'BEGIN { printf "%.0f", 1073.741824 / ((a + b) / 2) }')
row "swarm: 1 GiB, 1 seeder -> 1 leecher on tmpfs, $t_sec (median of 3) vs the CPU floor" "${t_mbs%.*} MB/s" \
	"${floor_t} MB/s floor" "$(awk -v a="$t_mbs" -v b="$floor_t" 'BEGIN{printf "%.2f", a/b}')" ">= 0.85x the floor"
row "  the same vs one raw libp2p stream ($t_sec, both hosts in one process)" "${t_mbs%.*} MB/s" "${raw_t%.*} MB/s raw" \
	"$(awk -v a="$t_mbs" -v b="$raw_t" 'BEGIN{printf "%.2f", a/b}')" "-"
row "  CPU-s per GiB, seeder / leecher, $t_sec (after)" "${t_seed} / ${t_leech} s" "${n_seed} / ${n_leech} s $n_sec" \
	"$(awk -v a="$t_seed" -v b="$t_leech" -v c="$n_seed" -v d="$n_leech" 'BEGIN{printf "%.2f", (a+b)/(c+d)}')" "< 1 (issue: 2.2 / 2.3 with noise)"
row "  the same fetch with $n_sec first (before), vs its CPU floor" "${n_mbs%.*} MB/s" "${floor_n} MB/s floor" \
	"$(awk -v a="$n_mbs" -v b="$floor_n" 'BEGIN{printf "%.2f", a/b}')" "-"
row "  the last tls fetch's time: leecher waits on the network / verifies+writes; seeder reads / sends / idles" \
	"$(awk -v a="$pipe_net" -v b="$pipe_store" -v c="$pipe_read" -v d="$pipe_write" -v e="$pipe_idle" -v t="$pipe_secs" \
		'BEGIN { printf "%.0f/%.0f; %.0f/%.0f/%.0f %%", 100*a/t, 100*b/t, 100*c/t, 100*d/t, 100*e/t }')" "${pipe_secs%.*} s fetch" "-" "the sender never idle"
row "  raw stream CPU-s per GiB, both ends together: tls / noise" "${rawcpu_t} / ${rawcpu_n} s" "-" \
	"$(awk -v a="$rawcpu_t" -v b="$rawcpu_n" 'BEGIN{printf "%.2f", a/b}')" "-"
print_table "1 GiB one-to-one"
trap cleanup EXIT
# === end of the 1 GiB one-to-one section ======================================

# === swarm: many leechers at once from a capped seeder (issue 20; h-serve) ====
# BENCH_MANY dev daemons (24 by default; as many as fit): daemon 0 shares a
# 64 MiB file with its upload capped at 20 MB/s, and all the others fetch it
# at the same moment. The total time is compared with the larger of two
# bounds: the seeder's cap (every byte leaves the seeder at least once:
# 64 MiB / 20 MB/s) and the CPU (the CPU-seconds all daemons spent during
# the fetch, from /proc/PID/stat, over this machine's cores). The peak RSS
# is the largest VmHWM of any daemon, over its whole life.
many=${BENCH_MANY:-24}
echo "== swarm: $many daemons, 64 MiB from a 20 MB/s seeder, all the others at once" >&2
"$TESTNET_DIR/up.sh" "$many" >/dev/null
mapfile -t mpids <"$RUN_DIR/pids"
# Every 0.1 s, each daemon's anonymous resident memory (RssAnon, KiB): the
# peak RSS is that plus the binary's mapped pages (RssFile), which all the
# daemons share.
anon_log="$RUN_DIR/anon.log"
(
	files=()
	for p in "${mpids[@]}"; do files+=("/proc/$p/status"); done
	while :; do
		awk '/^Pid:/ { p = $2 } /^RssAnon:/ { print p, $2 }' "${files[@]}" 2>/dev/null || true
		sleep 0.1
	done
) >"$anon_log" &
anon_pid=$!
trap 'kill "$anon_pid" 2>/dev/null || true; cleanup' EXIT
# cpu_ticks_all: cpu_ticks summed over every daemon of this section.
cpu_ticks_all() { local t=0 p; for p in "${mpids[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
f64="$RUN_DIR/f64.bin"
head -c $((64 << 20)) /dev/urandom >"$f64"
"$MYCO" --repo "$(node_repo 0)" swarm limits --max-upload 20M >/dev/null
c=$("$MYCO" --repo "$(node_repo 0)" share "$f64")
cpu0=$(cpu_ticks_all)
t0=$(now_ms)
pids=()
for ((i = 1; i < many; i++)); do
	"$MYCO" --repo "$(node_repo "$i")" fetch "$c" -o "$RUN_DIR/many$i.out" --json >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a leecher's fetch failed"; done
all_ms=$(($(now_ms) - t0))
cpu_s=$(awk -v t="$(($(cpu_ticks_all) - cpu0))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }')
for ((i = 1; i < many; i++)); do cmp -s "$f64" "$RUN_DIR/many$i.out" || die "leecher $i got different bytes"; done
rss_max=0 rss_who=0
for ((i = 0; i < many; i++)); do
	r=$(peak_rss_mib "${mpids[$i]}")
	[ "$r" -le "$rss_max" ] || { rss_max=$r rss_who=$i; }
done
kill "$anon_pid" 2>/dev/null || true
wait "$anon_pid" 2>/dev/null || true
trap cleanup EXIT
file_who=$(awk '/^RssFile:/ { printf "%d", $2 / 1024 }' "/proc/${mpids[$rss_who]}/status")
anon_who=$(awk -v p="${mpids[$rss_who]}" '$1 == p && $2 > m { m = $2 } END { printf "%d", m / 1024 }' "$anon_log")
anon_max=$(awk '$2 > m { m = $2 } END { printf "%d", m / 1024 }' "$anon_log")
seed_rss=$(peak_rss_mib "${mpids[0]}")
cores=$(nproc)
cap_s=$(awk 'BEGIN { printf "%.1f", 64 * 1048576 / 20e6 }')
cpu_b=$(awk -v c="$cpu_s" -v n="$cores" 'BEGIN { printf "%.1f", c / n }')
bound=$(awk -v a="$cap_s" -v b="$cpu_b" 'BEGIN { print (a > b ? a : b) }')
rm -f "$f64" "$RUN_DIR"/many*.out
row "swarm: 64 MiB, seeder capped at 20 MB/s, $((many - 1)) leechers at once (all done)" \
	"$(awk -v ms="$all_ms" 'BEGIN { printf "%.1f s", ms / 1000 }')" "cap ${cap_s} s, CPU ${cpu_b} s (${cpu_s} CPU-s / ${cores})" \
	"$(awk -v ms="$all_ms" -v b="$bound" 'BEGIN { printf "%.2f", ms / 1000 / b }')" "<= 2x the larger bound (client-server: $((many - 1))x cap)"
row "swarm: largest peak RSS of the $many daemons (VmHWM; daemon $rss_who; 0 is the seeder)" "${rss_max} MiB" "64 MiB" \
	"$(awk -v a="$rss_max" 'BEGIN { printf "%.2f", a / 64 }')" "<= 64 MiB"
row "  daemon $rss_who: its largest anonymous memory (RssAnon, every 0.1 s) / binary's pages mapped (RssFile)" \
	"${anon_who} / ${file_who} MiB" "${anon_max} MiB any daemon" "-" "-"
row "  the seeder's peak RSS (VmHWM)" "${seed_rss} MiB" "64 MiB" "$(awk -v a="$seed_rss" 'BEGIN { printf "%.2f", a / 64 }')" "<= 64 MiB"
cleanup
print_table "many leechers"
# === end of the many-leechers section ========================================

# === attacks (issue 19) ========================================================
# Each attack of cmd/myco/attack_test.go runs from a libp2p host of its own
# (internal/attack) against a real dev daemon on 127.0.0.1; the tests log one
# measured row per attack: what the attacker sent (and the CPU it spent, where
# measured), the victim's CPU-seconds and RSS from /proc, bytes it sent, the
# growth of its dht directory, the ratio of its bytes out to the attacker's
# bytes in, and the time to the ban. The sync flood test logs two rows: the
# flood until its ban, and the banned flooder redialling in a loop, each over
# its own window with the victim's CPU over idle. This section prints them as a
# table.
echo "== attack harness (cmd/myco TestAttack*)" >&2
attack_out=$(cd "$ROOT_DIR" && go test -count=1 -run 'TestAttack' -v ./cmd/myco 2>&1 || true)
printf '\n%-90s | %-32s | %-9s | %-12s | %-11s | %-7s | %-6s | %s\n' \
	"attack" "attacker sent" "victim CPU" "victim B out" "victim disk" "RSS" "ratio" "time to ban"
printf '%s\n' "$(printf -- '-%.0s' {1..200})"
{ grep -o 'attack-row|.*' <<<"$attack_out" || true; } | while IFS='|' read -r _ what sent cpu out disk rss ratio ban; do
	printf '%-90s | %-32s | %-9s | %-12s | %-11s | %-7s | %-6s | %s\n' "$what" "$sent" "$cpu" "$out" "$disk" "$rss" "$ratio" "$ban"
done
grep -E '^(--- FAIL|FAIL|ok)' <<<"$attack_out" >&2 || true
