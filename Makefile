# Skiff's entry points. `make test` is the README's test command and what
# .ci/run calls.
GO        ?= go
LINT_VER  := v2.15.0
DATA_DIR  ?= .skiff

.PHONY: up test test-containerd check build bench-api bench-scheduler fmt

## up: bring up a cluster on this machine (embedded NATS) in ./.skiff
up:
	$(GO) run ./cmd/skiff up --data-dir $(DATA_DIR)

## build: build bin/skiff
build:
	$(GO) build -o bin/skiff ./cmd/skiff

## test: every test of the repository (installs containerd from Debian's
## packages first when it is missing: the containerd runtime's tests need it)
test:
	./.ci/install-containerd.sh
	$(GO) test -count=1 -timeout 20m ./...

## test-containerd: the containerd runtime against a private daemon (root)
test-containerd:
	./.ci/install-containerd.sh
	CI=true $(GO) test -count=1 -v ./nodes/runtime/containerd/

## check: formatting, vet, lint, tidy modules, clean tree
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(LINT_VER) run ./...
	$(GO) mod tidy -diff

## bench-api: the API server benchmark (creates, updates, watch latency)
bench-api:
	$(GO) run ./cmd/skiff bench api

## bench-scheduler: pods created, scheduled and bound on simulated nodes,
## the policy built in and then as WASM plugins (500 and 5,000 nodes)
bench-scheduler:
	$(GO) run ./cmd/skiff bench scheduler --nodes 500 --pods 5000 --clients 16
	$(GO) run ./cmd/skiff bench scheduler --nodes 500 --pods 5000 --clients 16 --wasm
	$(GO) run ./cmd/skiff bench scheduler --nodes 5000 --pods 10000 --clients 16
	$(GO) run ./cmd/skiff bench scheduler --nodes 5000 --pods 10000 --clients 16 --wasm

fmt:
	gofmt -w $$(git ls-files '*.go')
