#!/usr/bin/env bash
# bench.sh measures Coffre against a peer S3 server and against the raw disk
# under both, in one run, and writes BENCHMARKS.md (`make bench`).
#
# It builds coffre and coffre-bench, installs the peer (versitygw, an
# independent Go S3 server over a local directory, pinned below) into
# $BENCH_DIR/bin, then, on fresh directories of $BENCH_DIR (on the
# repository's file system, git-ignored):
#   raw        coffre-bench raw: the same volumes written with write+fsync
#              and read back, without a server, before and after the servers;
#   coffre     `coffre serve` on its embedded defaults, on 127.0.0.1;
#   versitygw  `versitygw posix DIR`, on 127.0.0.1;
#   ceiling    coffre-bench null -md5: an S3 endpoint that stores nothing
#              (PUT bodies hashed with MD5 and dropped, GET bodies computed),
#              for the large and multipart groups only: the most one stream
#              gets through the client, net/http and loopback here;
# and drives both servers with coffre-bench s3 (aws-sdk-go-v2), one scenario
# group at a time, alternating between them, in BENCH_ROUNDS rounds. coffre-bench reads each
# server's CPU time and peak RSS (VmHWM) per scenario from /proc. At the end
# the servers are stopped, their data removed, and the report compares the
# three, with the ratios and the targets of issue 8.
#
# Environment:
#   BENCH_QUICK=1        small sizes (coffre-bench -quick): about a minute in
#                        all; the report then goes to $BENCH_DIR/BENCHMARKS.md
#                        unless BENCH_OUT says otherwise
#   BENCH_OUT=FILE       where the report goes (default: BENCHMARKS.md, or
#                        $BENCH_DIR/BENCHMARKS.md with BENCH_QUICK=1)
#   BENCH_DIR=DIR        work directory (default: .bench)
#   BENCH_TARGETS=LIST   which of raw,coffre,peer,ceiling to run (default: all four)
#   BENCH_SCENARIOS=LIST coffre-bench s3 -scenarios (default: all of
#                        large,small,ttfb,list,multipart)
#   BENCH_ROUNDS=N       runs of each scenario group against each server
#                        (default 2; the report keeps the best; list runs once)
#   BENCH_ARGS=ARGS      more coffre-bench s3 flags, e.g. "-small-duration 20s"
#   BENCH_KEEP=1         keep the servers' data directories
#   BENCH_PERF=1         profile coffre serve with perf record (see below)
#   COFFRE_EXTRA_ARGS    more `coffre serve` flags, e.g. "--debug"
#   COFFRE_PORT, PEER_PORT, CEILING_PORT  ports on 127.0.0.1 (default 19100,
#                        19101, 19102)
#
# Profiling Coffre during a scenario: pass `coffre serve --pprof` in
# COFFRE_EXTRA_ARGS, run one scenario group at a time, and sample while it
# runs, e.g.
#   COFFRE_EXTRA_ARGS='--pprof 127.0.0.1:6060' BENCH_TARGETS=coffre \
#     BENCH_SCENARIOS=small BENCH_OUT=/tmp/b.md bash scripts/bench.sh &
#   sleep 20; go tool pprof -seconds 10 http://127.0.0.1:6060/debug/pprof/profile
# Also:
#   - the report gives each scenario's CPU seconds, split between user space
#     and the kernel (system calls), and the CPU cost per GB, op or key;
#   - BENCH_PERF=1 records the whole Coffre run with perf(1) (linux-perf;
#     Go binaries keep frame pointers, so call graphs work as they are) into
#     $BENCH_DIR/run/coffre.perf.data; narrow it to one scenario group with
#     BENCH_TARGETS=coffre BENCH_SCENARIOS=small, then
#     perf report -i .bench/run/coffre.perf.data --no-children --sort dso,sym
#   - the in-process benchmarks (`make bench-go`; e.g. go test ./vault -run
#     '^$' -bench EndToEnd -cpuprofile cpu.out) profile the same code paths
#     with pprof.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The peer, pinned: `go install` of this exact version builds with the
# repository's Go toolchain.
PEER=versitygw
PEER_MODULE=github.com/versity/versitygw/cmd/versitygw
PEER_VERSION=v1.8.0

GO=${GO:-go}
BENCH_DIR=${BENCH_DIR:-.bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
BIN=$BENCH_DIR/bin
RUN=$BENCH_DIR/run
COFFRE_PORT=${COFFRE_PORT:-19100}
PEER_PORT=${PEER_PORT:-19101}
CEILING_PORT=${CEILING_PORT:-19102}
BENCH_TARGETS=${BENCH_TARGETS:-raw,coffre,peer,ceiling}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-large,small,ttfb,list,multipart}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
QUICK=()
PRESET=full
if [ "${BENCH_QUICK:-}" = 1 ]; then
	QUICK=(-quick)
	PRESET=quick
	BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/BENCHMARKS.md}
fi
BENCH_OUT=${BENCH_OUT:-$ROOT/BENCHMARKS.md}
read -r -a EXTRA_BENCH <<<"${BENCH_ARGS:-}"
read -r -a EXTRA_COFFRE <<<"${COFFRE_EXTRA_ARGS:-}"

log() { printf 'bench: %s\n' "$*" >&2; }
want() { [[ ",$BENCH_TARGETS," == *",$1,"* ]]; }

# Every process started here is stopped on the way out, by its PID.
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT

# stop_server PID: SIGTERM, then SIGKILL after 30 s.
stop_server() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# port_free PORT fails when something already listens on 127.0.0.1:PORT.
port_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		log "port 127.0.0.1:$1 is in use: set COFFRE_PORT or PEER_PORT"
		return 1
	fi
}

# wait_http URL PID: until URL answers any HTTP status, for 30 s at most,
# or fail if PID exits first.
wait_http() {
	local url=$1 pid=$2 i code
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || { log "$url: the server exited"; return 1; }
		code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
		[ -n "$code" ] && [ "$code" != 000 ] && return 0
		sleep 0.1
	done
	log "$url: no answer after 30 s"
	return 1
}

command -v curl >/dev/null || { log "curl is required (bash scripts/deps.sh installs it)"; exit 1; }

log "building coffre and coffre-bench into $BIN"
mkdir -p "$BIN"
"$GO" build -o "$BIN/coffre" ./cmd/coffre
"$GO" build -o "$BIN/coffre-bench" ./cmd/coffre-bench

installed_version() { "$GO" version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }
if want peer && [ "$(installed_version "$BIN/$PEER")" != "$PEER_VERSION" ]; then
	log "installing $PEER_MODULE@$PEER_VERSION into $BIN"
	GOBIN=$BIN "$GO" install "$PEER_MODULE@$PEER_VERSION"
fi

rm -rf "$RUN"
mkdir -p "$RUN/logs"
RESULTS=$RUN/results.jsonl
: >"$RESULTS"
ACCESS_KEY=BENCH$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n' | tr a-f A-F)
SECRET_KEY=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
STATUS=0
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# run_s3 NAME GROUP PREFIX: one scenario group against one server.
run_s3() {
	local name=$1 group=$2 prefix=$3 port pid
	case $name in
	coffre) port=$COFFRE_PORT pid=$COFFRE_PID ;;
	ceiling)
		# The null server stores nothing: only the large-object groups.
		[ "$group" = large ] || [ "$group" = multipart ] || return 0
		port=$CEILING_PORT pid=$CEILING_PID
		;;
	*) port=$PEER_PORT pid=$PEER_PID ;;
	esac
	# Writes still in the page cache (versitygw never fsyncs; a large blob
	# written just before) reach the disk now rather than during this group,
	# where a server that fsyncs would wait behind their writeback.
	sync
	log "$name: $group ($PRESET, keys under $prefix) against http://127.0.0.1:$port"
	AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY \
		"$BIN/coffre-bench" s3 "${QUICK[@]}" -endpoint "http://127.0.0.1:$port" -target "$name" \
		-pid "$pid" -json "$RESULTS" -scenarios "$group" -prefix "$prefix" -timeout 15m "${EXTRA_BENCH[@]}" \
		2>&1 | tee -a "$RUN/logs/$name-bench.log" >&2 || { log "$name: coffre-bench failed"; STATUS=1; }
}

# run_raw WHEN: the raw disk. It runs before and after the servers; the
# report keeps the faster of the two, as other work on the machine can only
# slow the disk down.
run_raw() {
	log "raw ($1): write+fsync and read back in $RUN/raw"
	mkdir -p "$RUN/raw"
	"$BIN/coffre-bench" raw "${QUICK[@]}" -dir "$RUN/raw" -json "$RESULTS" 2>&1 |
		tee -a "$RUN/logs/raw-bench.log" >&2 || { log "raw: coffre-bench failed"; STATUS=1; }
}

want raw && run_raw before

# Both servers run for the whole run, each on its own fresh directory; only
# one of them is loaded at a time.
SERVERS=()
if want coffre; then
	port_free "$COFFRE_PORT"
	log "coffre: serve --data $RUN/coffre-data on 127.0.0.1:$COFFRE_PORT ${EXTRA_COFFRE[*]}"
	COFFRE_ROOT_ACCESS_KEY=$ACCESS_KEY COFFRE_ROOT_SECRET_KEY=$SECRET_KEY \
		"$BIN/coffre" serve --data "$RUN/coffre-data" --s3-addr "127.0.0.1:$COFFRE_PORT" --identity-addr off "${EXTRA_COFFRE[@]}" \
		>"$RUN/logs/coffre.log" 2>&1 &
	COFFRE_PID=$!
	PIDS+=("$COFFRE_PID")
	wait_http "http://127.0.0.1:$COFFRE_PORT/healthz" "$COFFRE_PID"
	SERVERS+=(coffre)
fi
if want peer; then
	port_free "$PEER_PORT"
	mkdir -p "$RUN/$PEER-data"
	log "$PEER: posix $RUN/$PEER-data on 127.0.0.1:$PEER_PORT"
	# --keep-alive: like Coffre, keep connections open between requests
	# (versitygw closes them after each request by default).
	"$BIN/$PEER" --access "$ACCESS_KEY" --secret "$SECRET_KEY" --port "127.0.0.1:$PEER_PORT" \
		--keep-alive --quiet posix "$RUN/$PEER-data" >"$RUN/logs/$PEER.log" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	wait_http "http://127.0.0.1:$PEER_PORT/" "$PEER_PID"
	SERVERS+=("$PEER")
fi

if want ceiling; then
	port_free "$CEILING_PORT"
	log "ceiling: coffre-bench null -md5 on 127.0.0.1:$CEILING_PORT"
	"$BIN/coffre-bench" null -md5 -addr "127.0.0.1:$CEILING_PORT" >"$RUN/logs/ceiling.log" 2>&1 &
	CEILING_PID=$!
	PIDS+=("$CEILING_PID")
	wait_http "http://127.0.0.1:$CEILING_PORT/" "$CEILING_PID"
	SERVERS+=(ceiling)
fi

perf_pid=
if want coffre && [ "${BENCH_PERF:-}" = 1 ]; then
	log "coffre: perf record -g -p $COFFRE_PID -o $RUN/coffre.perf.data"
	perf record -q -e cpu-clock -F 499 -g -p "$COFFRE_PID" -o "$RUN/coffre.perf.data" >"$RUN/logs/perf.log" 2>&1 &
	perf_pid=$!
	PIDS+=("$perf_pid")
fi

# The scenario groups alternate between the servers in ABBA order (Coffre
# first, then the peer first, ...): background load that drifts during the
# run weighs on both alike. Each group is its own coffre-bench process;
# ttfb reads the objects large and small left in the bucket. Every group
# runs BENCH_ROUNDS times, each round under its own key prefix, except
# list, whose 100,000 keys are created once; the report keeps the best
# round of each scenario.
IFS=, read -r -a GROUPS_ <<<"$BENCH_SCENARIOS"
order=("${SERVERS[@]}")
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
	for group in "${GROUPS_[@]}"; do
		if [ "$group" != list ] || [ "$round" -eq 1 ]; then
			for name in "${order[@]}"; do
				run_s3 "$name" "$group" "r$round/"
			done
		fi
		mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
	done
done

if [ -n "$perf_pid" ]; then
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	log "coffre: profile in $RUN/coffre.perf.data (perf report -i $RUN/coffre.perf.data --no-children --sort dso,sym)"
fi
if want coffre; then stop_server "$COFFRE_PID"; fi
if want peer; then stop_server "$PEER_PID"; fi
if want ceiling; then stop_server "$CEILING_PID"; fi
if [ "${BENCH_KEEP:-}" != 1 ]; then rm -rf "$RUN/coffre-data" "$RUN/$PEER-data"; fi

want raw && run_raw after
ELAPSED=$(($(date +%s) - START))
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	commit="$commit (with uncommitted changes)"
fi
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
fs=$(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 " on " $1 }')
# ext4 without a journal syncs metadata buffers in each fsync: say so.
dev=$(df "$BENCH_DIR" | awk 'NR == 2 { print $1 }')
if [ "$(cat "/sys/fs/ext4/${dev##*/}/journal_task" 2>/dev/null)" = "<none>" ]; then
	fs="$fs, without a journal"
fi
fs="$fs ($(findmnt -no OPTIONS -T "$BENCH_DIR" 2>/dev/null || echo 'mount options unknown'))"
if [ "$PRESET" = quick ]; then
	sizes="the -quick preset of coffre-bench (small sizes: a smoke run, not a measure)"
else
	sizes="per round, large objects of 64 MiB (16, one after the other) and 1 GiB (3); 4 KiB objects from 8 clients for 10 s of PUTs then 10 s of GETs; time to first byte over 200 GETs of 4 KiB and 20 of each large size; 100,000 empty objects created by 64 clients, then 3 full ListObjectsV2 walks in pages of 1000 (once, not per round); 2 multipart uploads of 256 MiB in 16 MiB parts, 4 in parallel"
fi
sizes+=${BENCH_ARGS:+; changed by BENCH_ARGS: $BENCH_ARGS}

"$BIN/coffre-bench" report -json "$RESULTS" -peer "$PEER" \
	-preamble "Generated by \`make bench\` (scripts/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC') in ${ELAPSED} s; do not edit by hand, run it again. \`BENCH_QUICK=1 make bench\` is a smoke run of the same (it writes ${BENCH_DIR#"$ROOT"/}/BENCHMARKS.md). The machine is shared and noisy: figures move by 10–20 % between quiet runs, and by up to 2–3× when other work loads it (see the load average below and each round's figures)." \
	-meta "machine=$(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r)" \
	-meta "load average (1, 5, 15 min) at the start and the end of the run=$LOAD_START; $LOAD_END (other work on the machine: above 2, the figures are shared with it)" \
	-meta "file system of the data (Coffre's, the peer's and the raw files)=$fs" \
	-meta "Coffre=commit $commit, \`coffre serve\` on its embedded defaults (built-in keyring, SQLite, fs backend)${EXTRA_COFFRE[*]:+, with ${EXTRA_COFFRE[*]}}" \
	-meta "peer=versitygw $PEER_VERSION (\`versitygw --keep-alive posix DIR\`), Apache-2.0, https://github.com/versity/versitygw" \
	-meta "ceiling=\`coffre-bench null -md5\` (large objects and multipart only), an S3 endpoint that stores nothing: see under the targets" \
	-meta "client=coffre-bench (aws-sdk-go-v2, UNSIGNED-PAYLOAD, no request checksums), $($GO env GOVERSION)" \
	-meta "preset=$PRESET: $sizes" \
	-note "Both servers run side by side on the same machine, each on a fresh directory of the same file system, and the same load generator drives them on 127.0.0.1, one at a time: each scenario group runs against one server then the other, in ABBA order (Coffre first for large objects, the peer first for small ones, and so on), so that other work on the machine weighs on both alike; every group but the listing runs in $BENCH_ROUNDS rounds, each on new keys, and the tables give the best round (and every round). The client shares the $(nproc) CPUs with the server it measures (its own CPU time is in the raw results). Throughputs are in MB/s of 10⁶ bytes. Bodies are a deterministic AES-CTR stream generated while they are sent, and every GET is checked byte for byte against it while it streams, for the servers and the raw disk alike." \
	-note "raw disk: the same volumes, written by the same generator in 1 MiB writes to one file per object, its writeback started every 8 MiB (sync_file_range, as Coffre's file-system backend does), each fsynced with its directory, then read back and checked. Its read right after the write comes from the page cache, as the servers' GETs of objects they have just written do (the machine has $mem of RAM); its cold read (after posix_fadvise DONTNEED on each file) is the disk's own speed. It runs before and after the servers; the tables keep the faster of the two (both are in the raw results)." \
	-note "Durability differs: Coffre fsyncs every object (blob, directory and metadata) before it answers; versitygw $PEER_VERSION never calls fsync (its posix backend leaves writes in the page cache), so its PUT and create figures are not durable ones. Before each scenario group the script runs sync, so that the kernel writes what the previous group left in the page cache (versitygw's files, above all) before the next one starts, rather than during it, where a server that fsyncs would wait behind that writeback. Coffre also encrypts every byte (AES-256-GCM) and seals names and metadata; versitygw stores plain files and xattrs." \
	-note "Large-object scenarios send one object at a time (a single stream). Small-object scenarios run 8 concurrent clients, each with its own keep-alive connection. Time to first byte is measured from the request to the first body byte; for the large sizes the body is then closed unread, so each sample opens a new connection. Peak RSS is the server's VmHWM, reset (clear_refs) at the start of each scenario." \
	>"$BENCH_OUT.tmp"
mv "$BENCH_OUT.tmp" "$BENCH_OUT"
log "wrote $BENCH_OUT (results in $RESULTS, logs in $RUN/logs) after ${ELAPSED} s"
exit "$STATUS"
