# Turnout. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...

.PHONY: help build run test test-short bench bench-go fuzz lint vet staticcheck fmt tidy clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/turnout
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/turnout ./cmd/turnout

run: build ## run the README's example gateway on :8080 with two demo backends
	bin/turnout serve --demo

test: ## run every test with the race detector (what CI runs)
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short: ## unit tests only, no end-to-end runs of the binary
	$(GO) test -short -count=1 $(PKGS)

bench: ## Go benchmarks, then throughput and latency beside HAProxy and nginx; writes docs/performance.md
	$(MAKE) bench-go
	bash bench/run.sh
	bash bench/reload.sh

bench-go: ## Go benchmarks of the request path and of API update latency (-benchmem)
	mkdir -p bench/out
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./core/routing/ ./core/condition/ ./core/dataplane/ ./core/api/ | tee bench/out/go-bench.txt

fuzz: ## fuzz the condition parser for a minute
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime 60s ./core/condition/

lint: vet staticcheck ## go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin bench/bin bench/out
