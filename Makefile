# Coffre's build and test entry points. `make test` is what CI runs (.ci/run)
# and what a newcomer runs: it installs the test dependencies, vets, runs the
# whole suite, then a short fuzz pass.

GO           ?= go
# TEST_TIMEOUT bounds each test binary; `make test` as a whole stays well
# under half an hour on 2 cores.
TEST_TIMEOUT ?= 20m
# FUZZTIME is how long `make fuzz` runs each Fuzz target.
FUZZTIME     ?= 10s
STATICCHECK  ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test deps test-short fuzz bench bench-go build lint

test: deps
	$(GO) vet ./...
	$(GO) test -timeout $(TEST_TIMEOUT) ./...
	@$(MAKE) --no-print-directory fuzz

deps:
	bash scripts/deps.sh

test-short:
	$(GO) test -short ./...

# fuzz runs every Fuzz target of the module for FUZZTIME each (scripts/fuzz.sh).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# bench compares Coffre with a peer S3 server and the raw disk, end to end,
# and writes BENCHMARKS.md (scripts/bench.sh; about 10 minutes on 2 cores,
# BENCH_QUICK=1 for a smoke run of a minute).
bench:
	GO=$(GO) bash scripts/bench.sh

# bench-go runs the Go benchmarks beside the code (BenchmarkX), in process.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

build:
	$(GO) build -o bin/coffre ./cmd/coffre

lint:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -not -path '*/testdata/*' -exec gofmt -l {} +); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# torture runs the reliability torture suite (scripts/torture.sh): the random
# workload against coffre serve killed with SIGKILL, the same workload over a
# faulty backend, then every fuzz target, keeping the corpus in .torture/.
# TORTURE_TIME (default 5m) sizes the first two, TORTURE_FUZZTIME (default
# 20s) each fuzz target; the report goes to .torture/report.txt.
.PHONY: torture
torture:
	GO=$(GO) bash scripts/torture.sh
