# git-covenant — see README.md.
GO       ?= go
BIN      ?= bin/git-covenant
PREFIX   ?= $(HOME)/.local
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/git-covenant/git-covenant/cli.Version=$(VERSION)

.PHONY: all build install test vet demo bench deps clean interop fuzz release

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/git-covenant

## install: put git-covenant on PATH (PREFIX/bin, default ~/.local/bin) so `git covenant` works
install: build
	mkdir -p $(PREFIX)/bin
	install -m 0755 $(BIN) $(PREFIX)/bin/git-covenant
	mkdir -p $(PREFIX)/share/man/man1
	$(BIN) gen-man $(PREFIX)/share/man/man1
	mkdir -p $(PREFIX)/share/bash-completion/completions
	$(BIN) completion bash > $(PREFIX)/share/bash-completion/completions/git-covenant
	mkdir -p $(PREFIX)/share/zsh/site-functions
	$(BIN) completion zsh > $(PREFIX)/share/zsh/site-functions/_git-covenant
	@echo "installed $(PREFIX)/bin/git-covenant, its man pages and bash completion; with $(PREFIX)/bin on PATH, run: git covenant --help"

## deps: install the tools tests need (git, ssh-keygen) when missing
deps:
	@sh scripts/deps.sh

vet:
	$(GO) vet ./...

## test: every test (unit, tamper, concurrency, crash, CLI scripts), then
## one Service driven from 8 goroutines under the race detector
test: deps vet
	$(GO) test -count=1 -timeout 12m ./...
	$(GO) test -race -vet=off -count=1 -timeout 8m -run '^TestServiceConcurrentWriters$$' ./covenant/

## demo: build, make a throwaway repo and run the main flow end to end
demo: deps build
	@sh scripts/demo.sh

## bench: performance report against floors measured in the same run (see docs/perf.md)
bench: deps build
	@sh scripts/bench.sh

## fuzz: every fuzz target for FUZZTIME each (default 5m; FUZZ=<regexp> picks some); make test runs their seeds
fuzz:
	@sh scripts/fuzz.sh

## release: VERSION=vX.Y.Z: reproducible archives for linux/darwin x amd64/arm64, SBOM,
## SHA256SUMS and an audit-root attestation made by git-covenant itself (scripts/release.sh)
release:
	@VERSION='$(filter v%,$(VERSION))' sh scripts/release.sh

## interop: exported provenance bundles verify with the real cosign (builds cosign; not part of test)
interop: deps
	@sh scripts/interop.sh

clean:
	rm -rf bin .demo
