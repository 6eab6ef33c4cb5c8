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

export PIER_TEST_MINIO_BIN := $(MINIO)
export PIER_BIN := $(PIER)

.PHONY: examples all build run test test-unit bench bench-go bench-edge bench-deploy bench-memory bench-tls lint fuzz soak tools clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $(PIER) ./cmd/pier

## run: start the whole platform on embedded defaults (SQLite + ./data); ARGS='--tls-internal' passes flags
ARGS ?=
run: build
	$(PIER) serve $(ARGS)

## test: lint, install and start what the tests need, then run every test with -race
test: lint tools build examples
	PIER_TEST_REQUIRE_SERVERS=1 $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-unit: the fast tests only (no MinIO/PostgreSQL/binary)
test-unit:
	$(GO) test -short -count=1 ./...

tools: $(MINIO) $(PEBBLE) $(CHALLTESTSRV) postgres

# Pebble (the ACME test CA) and its DNS/challenge test server, for the TLS tests.
$(PEBBLE):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble@$(PEBBLE_VERSION)

$(CHALLTESTSRV):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$(PEBBLE_VERSION)

## examples: build the example workers (Go SDK, C, WAT, WAGI) into examples/*/build
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
bench: tools bench-tools build examples bench-go bench-edge bench-deploy bench-memory bench-worker bench-tls

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s ./assets/... ./tenants/... ./internal/... ./hosting/... ./admin/... ./cmd/...

bench-edge:
	$(GO) run ./internal/bench edge

bench-deploy:
	$(GO) run ./internal/bench deploy

bench-memory:
	$(GO) run ./internal/bench memory

bench-worker:
	$(GO) run ./internal/bench worker
	$(GO) test -run '^$$' -bench 'ServeCPUBound|RunawayStop|ColdStart' -benchtime 2s ./hosting/worker

bench-tls:
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

## fuzz: run each fuzz target for FUZZTIME (default 1m)
FUZZTIME ?= 1m
fuzz:
	@for t in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include '*_test.go' . | sed 's/func //'); do \
		pkg=$$(dirname $$(grep -rlE "^func $$t\(" --include '*_test.go' . | head -1)); \
		echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

## soak: long-running end-to-end load (not part of make test)
soak: tools build
	PIER_SOAK=1 PIER_TEST_REQUIRE_SERVERS=1 $(GO) test -count=1 -timeout 60m -run Soak ./internal/e2e/

clean:
	rm -rf $(BIN)
