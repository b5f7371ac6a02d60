#!/usr/bin/env bash
# Runs every Fuzz target of the module for FUZZTIME each (default 10s).
# Targets are listed with `go test -list` in each package whose tests declare
# one, so a new target is picked up without editing this file.
#
# Go 1.26's fuzz coordinator can end a run with "context deadline exceeded"
# under load without having found anything (golang/go#75804, fixed in Go
# 1.27). A genuine failure always writes its input to testdata/fuzz/TARGET;
# a run that fails without writing one is retried, twice at most.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}

count_inputs() { { find "$1" -type f 2>/dev/null || true; } | wc -l; }

n=0
while read -r pkg dir; do
	grep -qs '^func Fuzz' "$dir"/*_test.go || continue
	for f in $($GO test -list '^Fuzz' "$pkg" </dev/null | grep '^Fuzz' || true); do
		corpus="$dir/testdata/fuzz/$f"
		for attempt in 1 2 3; do
			echo "fuzz: $pkg $f for $FUZZTIME"
			before=$(count_inputs "$corpus")
			if $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg" </dev/null; then
				break
			fi
			if [ "$(count_inputs "$corpus")" -ne "$before" ]; then
				echo "fuzz: $f found a failing input, saved under $corpus" >&2
				exit 1
			fi
			if [ "$attempt" -eq 3 ]; then
				echo "fuzz: $f failed three times without a failing input" >&2
				exit 1
			fi
			echo "fuzz: $f stopped without a failing input (golang/go#75804); running it again" >&2
		done
		n=$((n + 1))
	done
done < <($GO list -f '{{.ImportPath}} {{.Dir}}' ./...)
echo "fuzz: ran $n targets for $FUZZTIME each"
