# numaload: the two commands a new user needs, and the ones CI runs.
CARGO ?= cargo
RESULT ?= out/quickstart.result.json

.PHONY: demo test test-crates setup build lint bench fuzz chaos clean deb image

## make demo: build release and compare two layouts of a real server on this host.
demo: setup
	$(CARGO) build --release --locked -p numaload
	mkdir -p out
	./target/release/numaload topology
	./target/release/numaload run examples/quickstart.toml --out $(RESULT)
	@echo "result written to $(RESULT)"

## make test: the whole test suite: every crate's tests, then the emulated 4-node NUMA guest, the
## multi-host network-namespace test, a short seeded chaos schedule over that fleet (20 runs,
## seed 29) and the package test (all need root, as CI has; the last reuses the release build of
## the first).
test: test-crates
	tests/numa-vm/run.sh
	tests/netns/run.sh
	CHAOS_RUNS=20 CHAOS_SEED=$${CHAOS_SEED:-29} tests/chaos/run.sh
	tests/package/run.sh

## make chaos: 200 runs of a seeded fault schedule over five network-namespace hosts (as root),
## the invariants checked after each, stopping at the first violation with its seed
## (CHAOS_SEED=N replays a schedule, CHAOS_RUNS=N sets its length). tests/chaos/chaos.py says what
## is injected and checked.
chaos: setup
	CHAOS_RUNS=$${CHAOS_RUNS:-200} tests/chaos/run.sh

## make test-crates: only the cargo tests (no root needed beyond the set-up), and the unit tests
## of the benchmark harness (scripts/bench/tests, Python's unittest; no cargo). Each test binary's
## tests run one at a time: on two cores a run beside another test's load can rightly come out
## suspect, which a test that needs an ok run reads as a failure.
test-crates: setup
	PYTHONDONTWRITEBYTECODE=1 python3 -m unittest discover -s scripts/bench/tests -t scripts
	$(CARGO) test --workspace --locked -- --test-threads=1

## make bench: issue 6's benchmarks side by side (generator vs wrk, open-loop accuracy, send-time
## precision, target vs bare hyper, measurement overhead, start-up and memory), the open loop's
## cost against wrk and oha, and Poisson against uniform arrivals; rewrites BENCHMARKS.md
## (~15 min on 2 cores). `make bench QUICK=1` is a ~2-min smoke run. The harness is
## the scripts/bench/ package (Python 3, standard library only); its settings are in config.py.
bench: setup
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=scripts python3 -m bench

## make fuzz: fuzz the agent's RunPlan decode-and-validate path and its /metrics scrape parser, FUZZ_TIME
## seconds each (cargo-fuzz, stable compiler via RUSTC_BOOTSTRAP).
FUZZ_TIME ?= 180
fuzz:
	cargo fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/work/run_plan fuzz/work/scrape
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run run_plan fuzz/work/run_plan fuzz/corpus/run_plan -- -max_total_time=$(FUZZ_TIME) -timeout=10
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run scrape fuzz/work/scrape fuzz/corpus/scrape -- -max_total_time=$(FUZZ_TIME) -timeout=10

## make deb: target/debian/numaload_VERSION_ARCH.deb (cargo-deb, installed if missing).
deb: setup
	scripts/package/deb.sh

## make image: the container image of deploy/Containerfile (needs podman or docker with an engine).
CONTAINER ?= $(shell command -v podman || command -v docker)
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IMAGE ?= registry.example.invalid/numaload:$(VERSION)
image:
	$(CONTAINER) build -f deploy/Containerfile --build-arg VERSION=$(VERSION) \
	  --build-arg GIT_COMMIT=$$(git rev-parse --short=12 HEAD) \
	  --build-arg GIT_DIRTY=$$(git diff-index --quiet HEAD -- && echo false || echo true) \
	  -t $(IMAGE) .

setup:
	@scripts/setup-system.sh

build: setup
	$(CARGO) build --workspace --locked

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

clean:
	$(CARGO) clean
	rm -rf out
