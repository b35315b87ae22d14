# batchwire: `make demo` runs the whole flow on a local Temporal dev server and an
# embedded NATS; `make test` runs every test. Both build what they need into .bin/.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/.bin
GOTESTFLAGS ?= -p 2 -timeout 30m
# VERSION and COMMIT are stamped into the binary (batchwire version).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: all build temporal promtool demo test test-deploy fuzz vet lint bench clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/batchwire ./cmd/batchwire
	$(GO) build -o $(BIN)/worker ./examples/worker

# temporal prints nothing; it makes sure a temporal CLI exists (building v1.5.1 into .bin/ once).
temporal:
	@scripts/temporal.sh >/dev/null

# promtool makes sure a promtool exists (building Prometheus v3.16.0's into .bin/ once).
promtool:
	@scripts/promtool.sh >/dev/null

demo: build temporal
	$(GO) run ./examples/demo --temporal "$$(scripts/temporal.sh)" --bin $(BIN)

# Every fuzz target, as package:target; `make test` runs each for FUZZ_SMOKE,
# `make fuzz` for FUZZTIME.
FUZZ_TARGETS := \
	./triggers:FuzzDecodeNATSStructured ./triggers:FuzzDecodeNATSBinary \
	./triggers:FuzzHTTPCloudEventsStructured ./triggers:FuzzHTTPCloudEventsBinary \
	./triggers:FuzzHTTPCloudEventsBatch ./triggers:FuzzAlertmanager ./triggers:FuzzWebhook \
	./config:FuzzParse ./daemon:FuzzLoad
FUZZ_SMOKE ?= 2s
FUZZTIME ?= 60s

test: temporal promtool
	$(GO) vet ./...
	TEMPORAL_BIN="$$(scripts/temporal.sh)" $(GO) test $(GOTESTFLAGS) ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SMOKE) FUZZMINIMIZE=1s
	$(MAKE) --no-print-directory test-deploy

# fuzz runs each target in turn; a failing input is written to the
# package's testdata/fuzz/ and fails the run.
FUZZMINIMIZE ?= 60s
fuzz:
	@set -eo pipefail; for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; name=$${target##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZE) $$pkg \
			| grep -v '^fuzz: elapsed'; \
	done

# test-deploy checks the deployment files: the deploy/ module's tests (Kubernetes
# types, Pod Security admission, Helm, compose-go) and promtool's rule unit tests.
test-deploy: promtool
	cd deploy && $(GO) vet ./... && $(GO) test $(GOTESTFLAGS) ./...
	"$$(scripts/promtool.sh)" check rules deploy/prometheus/batchwire-alerts.yaml
	"$$(scripts/promtool.sh)" test rules deploy/prometheus/batchwire-alerts_test.yaml deploy/prometheus/dashboard_test.yaml

vet:
	$(GO) vet ./...

# lint builds golangci-lint into .bin/ once (a few minutes) and runs it with .golangci.yml.
lint:
	@test -x $(BIN)/golangci-lint || GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
	$(BIN)/golangci-lint run ./...

bench:
	scripts/bench.sh

clean:
	rm -rf $(BIN) batchwire-data
