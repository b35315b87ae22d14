# batchwire: `make demo` runs the whole flow on a local Temporal dev server and an
# embedded NATS; `make test` runs every test. Both build what they need into .bin/.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/.bin
GOTESTFLAGS ?= -p 2 -timeout 30m

.PHONY: all build temporal demo test vet bench clean

all: build

build:
	$(GO) build -o $(BIN)/batchwire ./cmd/batchwire
	$(GO) build -o $(BIN)/worker ./examples/worker

# temporal prints nothing; it makes sure a temporal CLI exists (building v1.5.1 into .bin/ once).
temporal:
	@scripts/temporal.sh >/dev/null

demo: build temporal
	$(GO) run ./examples/demo --temporal "$$(scripts/temporal.sh)" --bin $(BIN)

test: temporal
	$(GO) vet ./...
	TEMPORAL_BIN="$$(scripts/temporal.sh)" $(GO) test $(GOTESTFLAGS) ./...

vet:
	$(GO) vet ./...

bench:
	scripts/bench.sh

clean:
	rm -rf $(BIN) batchwire-data
