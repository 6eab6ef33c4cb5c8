# Pier — the two commands are `make run` and `make test`.
SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/bin
TOOLS   := $(CURDIR)/.cache/bin
MINIO   := $(TOOLS)/minio
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
PEBBLE  := $(TOOLS)/pebble
CHALLTESTSRV := $(TOOLS)/pebble-challtestsrv
PEBBLE_VERSION := v2.10.1
# The linters, pinned; each version is installed once into $(TOOLS).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
GOCYCLO_VERSION := v0.6.0
GOCYCLO := $(TOOLS)/gocyclo-$(GOCYCLO_VERSION)
# Every Go module of the repository (the platform, and any module of its own below it).
MODULES := $(or $(patsubst %/,%,$(dir $(shell git ls-files ':(glob)**/go.mod' 2>/dev/null))),.)
PIER    := $(BIN)/pier
TEST_TIMEOUT ?= 20m
# apt-get is only used when a needed Debian package is missing.
APT     := DEBIAN_FRONTEND=noninteractive apt-get

# Modules of their own nested in the repository, which ./... at the root
# stops short of (it ends at a directory with a go.mod): the Go guest SDK and
# the Go example workers, which use the SDK through a replace directive.
NESTED_MODULES := sdk/go/pier examples/worker-go examples/worker-kv
# The Rust crates (the Rust guest SDK and its example), tested natively with
# Debian's toolchain, called by its full path (a rustup toolchain may come
# first on PATH); examples/Makefile's deps-rust installs it.
RUST_CRATES := sdk/rust examples/worker-rust
RUST_ENV    := RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc

export PIER_TEST_MINIO_BIN := $(MINIO)
export PIER_BIN := $(PIER)

.PHONY: examples all build run test test-unit test-modules test-rust test-arm64 lint-wasip1 bench bench-go bench-edge bench-ratelimit bench-deploy bench-memory bench-kv bench-tls bench-git bench-gc bench-neighbour lint fuzz soak tools clean

all: build

# The web console (web/): built by Vite into web/dist/console, which
# go build embeds. Without npm, build still works and the binary serves
# a page saying how to build the console.
HAVE_NPM := $(shell command -v npm 2>/dev/null)
CHROMIUM := /usr/bin/chromium

## build: the console (when npm exists), then the pier binary
build: $(if $(HAVE_NPM),web)
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(PIER) ./cmd/pier

## web: build the console into web/dist/console (needs Node 20 and npm; dependencies from package-lock.json by npm ci)
.PHONY: web
web: web/node_modules/.package-lock.json
	cd web && npm run build

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	@command -v npm >/dev/null || { echo "make web: npm not found; install Node 20 and npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@

# Debian's Chromium, which the console's browser tests drive.
.PHONY: chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "installing Chromium (Debian package) for the console's browser tests"; \
		$(APT) update -qq && $(APT) install -y -qq chromium >/dev/null; \
	fi

## test-web: the console's unit tests (vitest), then its browser tests (playwright-core + Chromium) against bin/pier
.PHONY: test-web
test-web: chromium web build
	cd web && npx vitest run
	cd web && CHROMIUM=$(CHROMIUM) npx vitest run --config vitest.browser.config.ts

## bench-web: the console's figures: bundle sizes and first-load budgets (JavaScript gzip, time to an
## interactive sites list, own origin only), then one page of every paginated list (10,000 tenants/sites,
## 5,000 deployments) on SQLite, PostgreSQL and through the API
.PHONY: bench-web
bench-web: chromium web build
	cd web && CHROMIUM=$(CHROMIUM) npx vitest run --config vitest.browser.config.ts e2e/console.test.ts -t budgets
	$(GO) test -run '^$$' -bench 'Pages' -benchmem -benchtime 1s ./tenants/sqlitestore ./tenants/pgstore ./admin

## run: start the whole platform on embedded defaults (SQLite + ./data); ARGS='--tls-internal' passes flags
ARGS ?=
run: build
	$(PIER) serve $(ARGS)

## try-domains: Pebble (ACME test CA), pebble-challtestsrv (DNS) and pier serve --https in ./data-try, then the steps to a custom domain over HTTPS; Ctrl-C stops all three
.PHONY: try-domains
try-domains: build $(PEBBLE) $(CHALLTESTSRV)
	$(GO) build -o $(BIN)/try-domains ./internal/trydomains
	$(BIN)/try-domains -pier $(PIER) -pebble $(PEBBLE) -challtestsrv $(CHALLTESTSRV)

## test: lint, install and start what the tests need, then run every test with -race (nested modules too) and the web console's tests (test-web)
test: lint tools build examples test-modules test-web test-arm64
	PIER_TEST_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-arm64: hosting/worker's tests built for linux/arm64 and run under
## qemu-user (Debian's qemu-user, installed if missing): the interrupt
## ticker's arm64 assembly. TestProcSyscallRereads is left out: qemu shows
## the host's system call numbers in /proc/<pid>/task/<tid>/syscall.
test-arm64:
	@if ! command -v qemu-aarch64 >/dev/null 2>&1; then \
		echo "installing qemu-user (Debian package)"; \
		$(APT) update -qq && $(APT) install -y -qq qemu-user >/dev/null; \
	fi
	GOARCH=arm64 $(GO) test -c -o $(TOOLS)/worker-arm64.test ./hosting/worker
	cd hosting/worker && qemu-aarch64 $(TOOLS)/worker-arm64.test -test.short -test.count=1 -test.skip TestProcSyscallRereads

## test-unit: the fast tests only (no MinIO/PostgreSQL/binary)
test-unit: test-modules
	$(GO) test -short -count=1 ./...

## test-modules: the nested modules' tests (NESTED_MODULES), each in its own directory, and the Rust crates' (test-rust)
test-modules: test-rust
	@set -e; for m in $(NESTED_MODULES); do echo "cd $$m && $(GO) test -race -count=1 ./..."; (cd $$m && $(GO) test -race -count=1 ./...); done

## test-rust: the Rust crates' unit tests (RUST_CRATES), natively, offline
test-rust:
	@$(MAKE) -s -C examples deps-rust
	@set -e; for c in $(RUST_CRATES); do echo "cd $$c && cargo test --offline"; (cd $$c && $(RUST_ENV) /usr/bin/cargo test --offline --quiet); done

tools: $(MINIO) $(PEBBLE) $(CHALLTESTSRV) postgres git

# The git program: git push publishing runs it, and its tests drive it as a client.
.PHONY: git
git:
	@if ! command -v git >/dev/null 2>&1; then \
		echo "installing git (Debian package)"; \
		$(APT) update -qq && $(APT) install -y -qq git >/dev/null; \
	fi

# Pebble (the ACME test CA) and its DNS/challenge test server, for the TLS tests.
$(PEBBLE):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION)

$(CHALLTESTSRV):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$(PEBBLE_VERSION)

## examples: build the example workers (Go SDK, C, WAT, WAGI, Rust, the outbound worker) into examples/*/build
examples:
	$(MAKE) -C examples

$(MINIO):
	@mkdir -p $(TOOLS)
	@echo "building MinIO $(MINIO_VERSION) into $(TOOLS) (once; ~2-4 min)"
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/minio/minio@$(MINIO_VERSION)

.PHONY: postgres
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v pg_config >/dev/null 2>&1; then \
		echo "installing PostgreSQL (Debian package)"; \
		$(APT) update -qq && $(APT) install -y -qq postgresql >/dev/null; \
	fi

bench-tools:
	@missing=""; for p in wrk:wrk caddy:caddy nginx:nginx; do command -v $${p%%:*} >/dev/null || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; $(APT) update -qq && $(APT) install -y -qq $$missing >/dev/null; fi

## bench: Go micro-benchmarks of every hot path, then the end-to-end figures
bench: tools bench-tools build examples bench-go bench-edge bench-ratelimit bench-deploy bench-memory bench-worker bench-kv bench-neighbour bench-tls bench-git bench-gc bench-web

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./assets/... ./tenants/... ./internal/... ./hosting/... ./admin/... ./cmd/...
	cd sdk/go/pier && $(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./...

bench-edge:
	$(GO) run ./internal/bench edge

## bench-ratelimit: edge static req/s with per-site rate limits on vs off, interleaved in one run (target ≥ 0.97×)
bench-ratelimit:
	$(GO) run ./internal/bench ratelimit

bench-deploy: build
	$(GO) run ./internal/bench deploy

bench-memory:
	$(GO) run ./internal/bench memory

bench-worker: build
	$(GO) run ./internal/bench worker
	$(GO) test -run '^$$' -bench 'ServeCPUBound|RunawayStop|ColdStart|ConcurrentRunaways' -benchtime 2s ./hosting/worker

## bench-kv: a worker doing one get of a hot key and one put per request through pier serve (req/s,
## latencies), then kv_get inside the guest (hot key, node cache vs store wait) and the cache's hit path
bench-kv: build examples
	$(GO) run ./internal/bench kv
	$(GO) test -run '^$$' -bench 'KVGet' -benchtime 2s ./hosting/worker
	$(GO) test -run '^$$' -bench 'KVCacheHit|WorkerKVGet' -benchtime 2s ./hosting

## bench-neighbour: a quiet tenant's static p99 while another tenant's 8 runaway workers and 4 slow-body
## connections attack, vs the same without the attack, in one run (target ≤ 2×, no errors)
bench-neighbour: build
	$(GO) run ./internal/bench neighbour

## bench-git: git push publishing: first push of a 10,000-file / 200 MB repository (time, RSS growth of pier serve),
## then one-file changes pushed (push → served) with pier deploy of the same change as the baseline
bench-git: build
	$(GO) run ./internal/bench git

## bench-gc: deployment retention and blob garbage collection of 1,000 tenants × 10 deployments × 1,000 files
## (rows written straight into SQLite) on fs, then of 100 tenants on MinIO: time and peak heap of each sweep
bench-gc:
	$(GO) run ./internal/bench gc -backend fs
	$(GO) run ./internal/bench gc -backend minio -tenants 100 -objects 100

bench-tls: build
	$(GO) run ./internal/bench tls
	$(GO) test -run '^$$' -bench 'HandshakeCached|GetCertificateCached' -benchmem ./certs

## lint: gofmt, then go vet, go mod tidy -diff and staticcheck in every module, the import rules,
## and cmd/pier stays wiring: no function above complexity 20 (gocyclo) or longer than 80 lines
lint: $(STATICCHECK) $(GOCYCLO)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do \
		echo "cd $$m && $(GO) vet ./... && $(GO) mod tidy -diff && staticcheck ./..."; \
		(cd $$m && $(GO) vet ./... && $(GO) mod tidy -diff && $(STATICCHECK) ./...) || exit 1; \
	done
	$(GO) test -count=1 ./internal/importrules
	$(GOCYCLO) -over 20 $(filter-out %_test.go,$(wildcard cmd/pier/*.go))

$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

$(GOCYCLO):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/fzipp/gocyclo/cmd/gocyclo@$(GOCYCLO_VERSION)
	mv $(TOOLS)/gocyclo $@

# lint-wasip1: the guest SDK and the Go example worker also vetted and
# staticchecked for wasip1, their real target (lint covers them natively).
lint: lint-wasip1
lint-wasip1: $(STATICCHECK)
	@set -e; for m in $(NESTED_MODULES); do echo "cd $$m && GOOS=wasip1 GOARCH=wasm go vet ./... && staticcheck ./..."; ( cd $$m && \
		GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(STATICCHECK) ./... ); done

## fuzz: run each fuzz target for FUZZTIME (default 1m)
FUZZTIME ?= 1m
fuzz:
	@for t in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include '*_test.go' . | sed 's/func //'); do \
		pkg=$$(dirname $$(grep -rlE "^func $$t\(" --include '*_test.go' . | head -1)); \
		echo "== $$pkg $$t"; (cd $$pkg && $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) .) || exit 1; \
	done

## soak: long-running end-to-end load (not part of make test)
soak: tools build
	PIER_SOAK=1 PIER_TEST_REQUIRE_SERVERS=1 $(GO) test -count=1 -timeout 60m -run Soak ./internal/e2e/

clean:
	rm -rf $(BIN) web/dist/console
