#!/usr/bin/env bash
# Coffre's reliability torture suite (`make torture`), on loopback only:
#
#   1. the random workload against a real `coffre serve` killed with
#      SIGKILL at random times (tests/torture, TestCrashTorture);
#   2. the same workload in process, over a backend that fails, stalls,
#      truncates and corrupts (TestFaultTorture);
#   3. every fuzz target of the module for TORTURE_FUZZTIME each, through
#      scripts/fuzz.sh (its discovery, its retries), keeping the generated
#      corpus in .torture/fuzzcache so that it grows from run to run.
#
# TORTURE_TIME (default 5m) is the time of steps 1 and 2 together (3/4 and
# 1/4); TORTURE_FUZZTIME (default 20s) is per fuzz target; TORTURE_SEED
# replays the random choices of steps 1 and 2. Every step runs even when
# one fails; the report, also in .torture/report.txt, ends with PASS only
# if no step failed and no violation was found.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
TORTURE_TIME=${TORTURE_TIME:-5m}
TORTURE_FUZZTIME=${TORTURE_FUZZTIME:-20s}
out=.torture
mkdir -p "$out/fuzzcache"
echo '*' >"$out/.gitignore" # everything here is generated
rm -f "$out"/crash.txt "$out"/faults.txt "$out"/*.log "$out"/report.txt

log() { printf 'torture: %s\n' "$*" >&2; }

# seconds converts a Go duration made of h, m and s (5m, 1h30m, 90s) to
# seconds; 0 if it cannot.
seconds() {
	local d=$1 total=0 n
	while [[ $d =~ ^([0-9]+)([hms])(.*)$ ]]; do
		n=${BASH_REMATCH[1]}
		case ${BASH_REMATCH[2]} in
		h) total=$((total + n * 3600)) ;;
		m) total=$((total + n * 60)) ;;
		s) total=$((total + n)) ;;
		esac
		d=${BASH_REMATCH[3]}
	done
	[ -z "$d" ] && echo "$total" || echo 0
}
budget=$(seconds "$TORTURE_TIME")
if [ "$budget" -le 0 ]; then
	log "TORTURE_TIME=$TORTURE_TIME: use a duration such as 5m, 90s or 1h30m"
	exit 2
fi
# A test binary's deadline: its budget, plus room for building, restarts
# and the final checks.
deadline="$((budget + 900))s"

failed=()
export TORTURE=1 TORTURE_TIME TORTURE_REPORT_DIR="$PWD/$out"
for t in Crash:crash Fault:faults; do
	test=Test${t%%:*}Torture name=${t#*:}
	log "$test (log: $out/$name.log)"
	if ! $GO test -count=1 -v -timeout "$deadline" -run "^$test\$" ./tests/torture/ >"$out/$name.log" 2>&1; then
		failed+=("$test")
		grep -E -- '--- FAIL|VIOLATION' "$out/$name.log" | cut -c1-300 | head -20 >&2
	fi
done
unset TORTURE TORTURE_REPORT_DIR

# fuzz.sh calls $GO for everything; this wrapper adds the corpus directory
# to the fuzzing runs, per package as `go test` lays out its own cache
# (the package is the last argument fuzz.sh gives).
real_go=$(command -v "$GO")
cat >"$out/go" <<EOF
#!/usr/bin/env bash
# Written by scripts/torture.sh: $real_go, with fuzzing runs keeping their corpus in $PWD/$out/fuzzcache.
for a in "\$@"; do
	if [ "\$a" = -fuzz ]; then
		exec "$real_go" "\$@" -args "-test.fuzzcachedir=$PWD/$out/fuzzcache/\${*: -1}"
	fi
done
exec "$real_go" "\$@"
EOF
chmod +x "$out/go"
log "fuzzing every target for $TORTURE_FUZZTIME (log: $out/fuzz.log, corpus: $out/fuzzcache)"
if ! FUZZTIME=$TORTURE_FUZZTIME GO="$PWD/$out/go" bash scripts/fuzz.sh >"$out/fuzz.log" 2>&1; then
	failed+=("fuzz")
	tail -20 "$out/fuzz.log" >&2
fi

# The report. Counters come as "name value" lines from the tests.
value() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1" 2>/dev/null || echo 0; }
ops() {
	awk '
	$1 ~ /^ops\./ { k = substr($1, 5); n[k] = $2 }
	$1 ~ /^(outcome|detail)\./ { split($1, p, "."); o[p[2]] = o[p[2]] sprintf(" %s %d,", p[3], $2) }
	END {
		for (k in n) { s = o[k]; sub(/,$/, "", s); printf "    %-16s %6d  (%s)\n", k, n[k], substr(s, 2) }
	}' "$1" | sort
}
by_prefix() { # file prefix: the counters under prefix, without it
	awk -v p="$2" 'index($1, p) == 1 { printf "    %-28s %6d\n", substr($1, length(p) + 1), $2 }' "$1"
}
section() {
	local file=$1
	if [ ! -s "$file" ]; then
		echo "  (no figures: the test did not finish; see its log)"
		return
	fi
	grep -E '^(seed|budget|elapsed|clients|keys) ' "$file" | sed 's/^/  /'
	echo "  operations by kind (outcomes):"
	ops "$file"
}
violations=$(($(value "$out/crash.txt" violations) + $(value "$out/faults.txt" violations)))
{
	echo "Coffre torture report, $(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
	echo "TORTURE_TIME=$TORTURE_TIME TORTURE_FUZZTIME=$TORTURE_FUZZTIME${TORTURE_SEED:+ TORTURE_SEED=$TORTURE_SEED}"
	echo
	echo "1. Workload against coffre serve, killed with SIGKILL (TestCrashTorture)"
	section "$out/crash.txt"
	if [ -s "$out/crash.txt" ]; then
		echo "  crashes injected:            $(value "$out/crash.txt" crashes) (operations in flight at the kills: $(value "$out/crash.txt" crash_inflight_ops))"
		echo "  twin site kills:             none (no twin site yet: they come with the twin issue)"
		echo "  writes acknowledged:         $(value "$out/crash.txt" writes.acknowledged); cut by kills: $(value "$out/crash.txt" writes.cut_or_failed) (later seen landed: $(value "$out/crash.txt" writes.cut_seen_landed), seen not to: $(value "$out/crash.txt" writes.cut_seen_void))"
		echo "  leftovers:                   $(value "$out/crash.txt" leftovers.files) blob files for $(value "$out/crash.txt" leftovers.referenced_blobs) referenced"
		echo "  violations:                  $(value "$out/crash.txt" violations)"
		by_prefix "$out/crash.txt" violations.
	fi
	echo
	echo "2. Workload in process over a faulty backend (TestFaultTorture)"
	section "$out/faults.txt"
	if [ -s "$out/faults.txt" ]; then
		echo "  faults injected:             $(value "$out/faults.txt" faults), by kind:"
		by_prefix "$out/faults.txt" faults.
		echo "  integrity errors detected:   $(value "$out/faults.txt" integrity.answered_500) answered 500 InternalError, $(value "$out/faults.txt" integrity.failed_mid_stream) cut a GET after its status line"
		echo "  error answers by status and code:"
		by_prefix "$out/faults.txt" answers.
		echo "  violations:                  $(value "$out/faults.txt" violations)"
		by_prefix "$out/faults.txt" violations.
	fi
	echo
	echo "3. Fuzzing, $TORTURE_FUZZTIME per target (corpus kept in $out/fuzzcache)"
	awk '
	function flush() { if (t != "") { execs[t] += last; if (!(t in seen)) { seen[t] = 1; order[++n] = t } } last = 0 }
	/^fuzz: [^ ]+ Fuzz[^ ]* for / { flush(); t = $2 " " $3; next }
	/^fuzz: elapsed: .*execs: [0-9]+/ { match($0, /execs: [0-9]+/); last = substr($0, RSTART + 7, RLENGTH - 7) + 0 }
	END {
		flush()
		for (i = 1; i <= n; i++) { printf "    %-62s %12d execs\n", order[i], execs[order[i]]; total += execs[order[i]] }
		printf "  total: %d execs over %d targets\n", total, n
	}' "$out/fuzz.log"
	echo "  audit entries: no audit log exists yet, so no parser to fuzz (it comes with the audit issue)"
	echo
	if [ ${#failed[@]} -eq 0 ] && [ "$violations" -eq 0 ]; then
		echo "Result: PASS (0 violations)"
	else
		echo "Result: FAIL ($violations violations; failed: ${failed[*]:-none}); logs in $out/"
	fi
} | tee "$out/report.txt"
[ ${#failed[@]} -eq 0 ] && [ "$violations" -eq 0 ]
