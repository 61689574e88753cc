# Turnout. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
PKGS     := ./...
DIST     ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
# The container image's platforms (`make image`); CI builds one.
IMAGE_PLATFORMS   ?= linux/amd64 linux/arm64
# go.mod's toolchain line names the Go release with the standard library's
# security fixes; auto fetches it through the module proxy where the local
# Go is older (some installs default to GOTOOLCHAIN=local, which ignores it).
export GOTOOLCHAIN ?= auto
VULN_VERSION   ?= v1.10.0
# The vulnerability database, read from the golang.org/x/vulndb module:
# vuln.go.dev is not reachable from every build machine.
VULNDB_VERSION ?= latest
RELEASE_VERSION   ?= $(patsubst v%,%,$(VERSION))
# Where the GitHub releases are: resource.json points at RELEASE_URL/VERSION/.
RELEASE_URL       ?= https://github.com/turnout/turnout/releases/download
# The Universe package revision whose version and resource.json are generated.
UNIVERSE_PACKAGE  ?= universe/packages/T/turnout/0
# make universe-repo: the local Universe repository (index and assets) is
# written to UNIVERSE_DIR, to be served at UNIVERSE_URL.
UNIVERSE_DIR      ?= $(DIST)/universe
UNIVERSE_URL      ?= http://universe.marathon.mesos:8085
# Every file in the tarballs gets this mtime: the commit's time, so that the
# same commit gives the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
# The commit, for the image's org.opencontainers.image.revision label (none
# outside a git checkout).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
# `make image` after `make release VERSION=vX.Y.Z`: without VERSION it builds
# the Universe package's version (the one release checked), not git
# describe's, which names a commit where no tag is.
PACKAGE_VERSION := v$(shell sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' $(UNIVERSE_PACKAGE)/package.json 2>/dev/null)
IMAGE_VERSION   := $(if $(filter file,$(origin VERSION)),$(PACKAGE_VERSION),$(VERSION))
image: override VERSION := $(IMAGE_VERSION)
image: override LDFLAGS := -s -w -X main.version=$(IMAGE_VERSION)
# The static binary of `make release` and `make image` (GOOS and GOARCH
# set before it): no cgo, no paths or VCS stamps, so the same commit gives
# the same bytes.
STATIC_BUILD = CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'
# The SBOMs (CycloneDX JSON, one per platform) are read from each binary's
# build information; without -licenses, which would ask the module proxy
# about this very version and so change with time.
CYCLONEDX_VERSION ?= v1.10.0

.PHONY: proto help build cross run test test-short test-stress bench bench-go bench-cluster fuzz lint vet staticcheck vulncheck fmt tidy clean universe-check release image universe-package universe-repo

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/turnout
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/turnout ./cmd/turnout

cross: ## build every package for darwin/arm64 too (a Mac's build; the data plane's event loop is Linux's, with a fallback)
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

run: build ## run the README's example gateway on :8080 with two demo backends
	bin/turnout serve --demo

test: ## run every test with the race detector (what CI runs)
	@command -v protoc >/dev/null || echo "make test: protoc is not installed, so TestGeneratedCodeIsFresh is skipped (apt-get install protobuf-compiler)"
	@[ -f /usr/share/java/zookeeper.jar ] || echo "make test: ZooKeeper is not installed, so the ZooKeeper store's and the leader election's tests are skipped (apt-get install zookeeper)"
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short: ## unit tests only, no end-to-end runs of the binary
	$(GO) test -short -count=1 $(PKGS)

test-stress: ## make test RUNS (10) times beside BUSY (2) busy loops, to find flaky tests (see scripts/test-stress.sh)
	GO='$(GO)' bash scripts/test-stress.sh $(PKGS)

universe-check: ## check the Universe package and marathon-json/ (real schemas, Cosmos-style rendering, ports)
	$(GO) test -count=1 ./universe/...

release: ## VERSION=vX.Y.Z: reproducible tarballs (binary and LICENSE), CycloneDX SBOMs and SHA256SUMS in DIST (dist/)
	$(GO) build -o bin/release ./scripts/release
	bin/release check -version '$(VERSION)' -base '$(RELEASE_URL)' -package '$(UNIVERSE_PACKAGE)'
	GOBIN=$(CURDIR)/bin $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)
	rm -rf $(DIST) && mkdir -p $(DIST)
	set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; n=turnout-$(RELEASE_VERSION)-$$os-$$arch; d=$(DIST)/$$n.tmp; \
		GOOS=$$os GOARCH=$$arch $(STATIC_BUILD) -o $$d/turnout ./cmd/turnout; \
		bin/release tar -o $(DIST)/$$n.tar.gz -mtime $(SOURCE_DATE_EPOCH) turnout=$$d/turnout:755 LICENSE=LICENSE:644; \
		bin/cyclonedx-gomod bin -json -noserial -notimestamp -version $(VERSION) -output $(DIST)/$$n.cdx.json $$d/turnout; \
		rm -rf $$d; \
	done
	bin/release sums -dir $(DIST)

image: ## VERSION=vX.Y.Z, after release: the container image (IMAGE_PLATFORMS) as an OCI layout tar in DIST, no Docker needed
	$(GO) build -o bin/release ./scripts/release
	bin/release check -version '$(VERSION)' -base '$(RELEASE_URL)' -package '$(UNIVERSE_PACKAGE)'
	mkdir -p $(DIST)
	@# The binaries of the release tarballs in DIST, or built the same way
	@# where there is none (`make release` empties DIST, so it comes first).
	set -e; bins=; for p in $(IMAGE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; n=turnout-$(RELEASE_VERSION)-$$os-$$arch; \
		if [ -f $(DIST)/$$n.tar.gz ]; then bins="$$bins $$p=$(DIST)/$$n.tar.gz"; continue; fi; \
		GOOS=$$os GOARCH=$$arch $(STATIC_BUILD) -o $(DIST)/$$n.tmp/turnout ./cmd/turnout; \
		bins="$$bins $$p=$(DIST)/$$n.tmp/turnout"; \
	done; \
	bin/release image -o $(DIST)/turnout-$(RELEASE_VERSION)-oci.tar -version '$(VERSION)' -revision '$(REVISION)' -mtime $(SOURCE_DATE_EPOCH) $$bins; \
	rm -rf $(DIST)/*.tmp
	bin/release sums -dir $(DIST)

universe-repo: ## DIST's release as a local Universe repository in UNIVERSE_DIR (dist/universe), its URLs under UNIVERSE_URL
	$(GO) build -o bin/release ./scripts/release
	bin/release repo -package '$(UNIVERSE_PACKAGE)' -dist '$(DIST)' -o '$(UNIVERSE_DIR)' -url '$(UNIVERSE_URL)'

universe-package: ## VERSION=vX.Y.Z: write the Universe package's version and resource.json (generated, never edited by hand)
	$(GO) run ./scripts/release package -version '$(VERSION)' -base '$(RELEASE_URL)' -package '$(UNIVERSE_PACKAGE)'

bench: ## Go benchmarks, then throughput and latency, weight changes and uploads beside HAProxy and nginx, then cluster mode; writes docs/performance.md
	$(MAKE) bench-go
	bash bench/run.sh
	bash bench/reload.sh
	bash bench/upload.sh
	$(MAKE) bench-cluster

bench-cluster: ## 3 agents on one ZooKeeper: change-to-traffic delay (p50/p99), and store writes/s, bolt against ZooKeeper; writes its section of docs/performance.md
	bash bench/cluster.sh

bench-go: ## Go benchmarks of the request path, of API update latency, of route scale and of gateway scale (-benchmem)
	mkdir -p bench/out
	$(GO) test -run '^$$' -bench . -skip GatewayScale -benchmem -count 5 ./core/routing/ ./core/condition/ ./core/dataplane/ ./core/api/ ./core/metrics/ | tee bench/out/go-bench.txt
	# Seconds per run at 10,000 routes: a few fixed runs, not -benchtime 1s.
	$(GO) test -run '^$$' -bench RouteScale -benchmem -benchtime 3x -count 3 ./core/engine/ | tee -a bench/out/go-bench.txt
	# Percentiles of 100 changes per size, once: 1,000 gateways take a listener each.
	$(GO) test -run '^$$' -bench GatewayScale -benchmem -benchtime 100x ./core/api/ | tee -a bench/out/go-bench.txt

fuzz: ## fuzz the condition parser for a minute
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime 60s ./core/condition/

lint: vet staticcheck ## go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need formatting"; exit 1; }

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

vulncheck: ## govulncheck: known vulnerabilities the code can reach (Go's database, built locally)
	set -e; dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	test -d "$$dir/data/osv" || { echo "vulncheck: no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
	rm -rf bin/vulndb; \
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$dir/data/osv" -out bin/vulndb; \
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(VULN_VERSION) -db file://$(CURDIR)/bin/vulndb $(PKGS)

proto: ## regenerate the plugin protocol's Go code (needs protoc: apt-get install protobuf-compiler)
	bash plugins/sdk/internal/pluginv1/generate.sh

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin bench/bin bench/out
