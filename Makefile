# tillmesh — run `make` for the list of targets.
SHELL := bash
.SHELLFLAGS := -o pipefail -euc
.DEFAULT_GOAL := help
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin

GO        ?= go
BIN       := bin/tillmesh
FUZZTIME  ?= 3s
FUZZ_LONG ?= 1m
DATA      ?= .data/demo

.PHONY: help build run test vet race sim fuzz fuzz-short bench power-cut lint check clean package

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

# -trimpath -s -w: no build paths, symbol table or DWARF (a stack trace
# still names every function); urfave_cli_no_docs drops the CLI's man-page
# and markdown generators (and their markdown parser), which we never call.
# RELEASE is what `tillmesh version` prints, from git describe.
# CGO_ENABLED=0: a static binary without libc and the dynamic loader (1.4
# MB of a till's resident set; Go's own DNS resolver, which Linux builds
# use anyway unless nsswitch.conf asks for more); nothing of ours needs cgo
# (TestBinaryNeedsNoCgo).
RELEASE   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
BUILDFLAGS ?= -trimpath -tags urfave_cli_no_docs -ldflags='-s -w -X main.release=$(RELEASE)'

build: ## build bin/tillmesh (stripped; see BENCHMARKS.md for its size)
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/tillmesh
	@ls -l $(BIN) | awk '{printf "%s: %.1f MB\n", $$NF, $$5/1e6}'

# The Debian package (cmd/tillmesh-deb writes it): bin/tillmesh, systemd
# units for a till and HQ, /etc/tillmesh/*.conf as conffiles, the tillmesh
# user made by postinst. Versions are Debian's: a release tag v1.2.3
# gives 1.2.3, a commit without one 0.0.0~git<date>.<hash>.
PKG_VERSION ?= $(shell v=$$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null) && echo $${v\#v} || git log -1 --format='0.0.0~git%cd.%h' --date=format:%Y%m%d)
PKG_ARCH    ?= $(shell $(GO) env GOARCH)
DEB         := dist/tillmesh_$(PKG_VERSION)_$(PKG_ARCH).deb

package: build ## the Debian package in dist/ (README, "Installing")
	$(GO) run ./cmd/tillmesh-deb -binary $(BIN) -version '$(PKG_VERSION)' -arch $(PKG_ARCH) -out $(DEB)

run: build ## run the demo (data kept in .data/demo)
	./$(BIN) demo --data $(DATA)

test: vet race sim fuzz-short ## everything CI runs: vet, race tests, the simulator's seeds, short fuzz runs
	@echo "make test: all passed"

vet:
	$(GO) vet ./...

# -timeout: a hang guard, not a speed target; testnet runs every built-in
# scenario in-process under the race detector, several minutes on a
# loaded 2-core machine.
#
# testnet's process-mode tests (TestProcess, TestNetns: every scenario
# again, the tills separate processes) run after, without -race. Their
# tills are a `go build` of cmd/tillmesh, never race-instrumented, so
# -race checked only the driver, whose harness, workload and checks
# TestInproc runs under -race with the tills in the same process; -race
# doubled their time (TestProcess/double-spend and steady: 31.5 s under
# -race, 15.7 s without, same load) on the step's longest package.
RACE_SKIP := ^(TestProcess|TestNetns)$$
race:
	$(GO) test -race -count=1 -timeout 25m -skip '$(RACE_SKIP)' ./...
	$(GO) test -count=1 -timeout 25m -run '$(RACE_SKIP)' ./testnet

# The deterministic simulator's full sweep (3,000 seeds); the race run
# above covers 100, side by side (the simulator is one goroutine per
# seed: the detector has only what seeds share to look at, and slows it
# eightfold).
sim:
	$(GO) test -count=1 -run '^TestSeeds$$' ./testnet/sim

# Every fuzz target in every package, FUZZTIME each. Each package's
# test binary is built once, instrumented for the fuzzer as `go test
# -fuzz` builds it (`go test -c -fuzz=.`), and runs each of its targets
# from the package directory (seeds and crashers in testdata/fuzz) with
# the fuzz cache `go test` uses; a `go test -fuzz` per target linked the
# binary again each time, and listing the targets linked one for every
# package. Packages without a `func Fuzz` in a test file are not built.
fuzz-short:
	@bins=$$(mktemp -d); trap 'rm -rf "$$bins"' EXIT; cache=$$($(GO) env GOCACHE)/fuzz; \
	$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
	  grep -qs '^func Fuzz' "$$dir"/*_test.go || continue; \
	  bin=$$bins/$${pkg//\//_}.test; \
	  $(GO) test -c -fuzz=. -o "$$bin" "$$pkg"; \
	  for t in $$(cd "$$dir" && "$$bin" -test.list '^Fuzz' | grep '^Fuzz' | sort -u); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    run() { (cd "$$dir" && "$$bin" -test.run '^$$' -test.fuzz "^$$t$$" -test.fuzztime $(FUZZTIME) \
	      -test.fuzzcachedir "$$cache/$$pkg" -test.paniconexit0 -test.timeout 10m) > /tmp/tillmesh-fuzz.log 2>&1; }; \
	    run || \
	    { echo "  retrying once (go's fuzzer can end a run with 'context deadline exceeded'; a real crasher replays from testdata)"; run; } || \
	    { cat /tmp/tillmesh-fuzz.log; echo "fuzz-short: $$pkg $$t failed"; exit 1; }; \
	  done; \
	done

fuzz: ## fuzz every target for FUZZ_LONG (default 1m) each
	$(MAKE) fuzz-short FUZZTIME=$(FUZZ_LONG)

bench: ## run the benchmarks (figures go in BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The power-cut scenario at full size: 200 cuts of the whole store on
# powerfs (root and /dev/fuse). `make test` runs it at CI size (4 cuts)
# in testnet's TestProcess, skipping it where FUSE is missing.
power-cut: build ## 200 power cuts of a whole store (needs FUSE; figures go in BENCHMARKS.md)
	./$(BIN) testnet run --scenario power-cut --mode process --json

lint: ## gofmt and vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

check: lint test ## lint, then test

clean: ## remove build output and demo data
	rm -rf bin .data dist
