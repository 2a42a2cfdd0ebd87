# hitl — durable human-in-the-loop on NATS JetStream.
GO      ?= go
HTTP    ?= 127.0.0.1:8080
DATA    ?= ./data
NATS    ?= 127.0.0.1:4222
FUZZTIME ?= 30s
SCALE_N ?= 100000

.DEFAULT_GOAL := help

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Run the whole system on an embedded JetStream (hitl dev)
	$(GO) run ./cmd/hitl dev --http $(HTTP) --data $(DATA) --nats $(NATS)

build: ## Build every command into ./bin
	$(GO) build -o bin/ ./cmd/...

test: ## Run every test with the race detector (embedded JetStream, 3-node cluster on loopback)
	$(GO) test -race -count=1 -timeout 15m ./...
	cd examples/host && $(GO) test -race -count=1 ./...

stress: ## Chaos: 300 runs on a 3-node cluster, the event stream's leader killed mid-way (build tag stress)
	$(GO) test -race -tags stress -count=1 -timeout 15m -run Stress -v ./e2e/

bench: ## Full cycle vs the bare JetStream floor and the HTTP floor, with JetStream reads and writes per cycle; prints a JSON line last
	$(GO) run ./bench

scale: ## Fill SCALE_N pending requests (default 100000), services in their own processes; JSON per level
	$(GO) run ./bench scale -n $(SCALE_N) $(SCALE_FLAGS)

fuzz: ## Run every fuzz target, one at a time, for FUZZTIME each (default 30s; FUZZ=regexp picks some)
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l . && echo "gofmt: the files above need formatting" && exit 1)
	$(GO) vet ./...

clean: ## Remove build output and the dev data directory
	rm -rf bin $(DATA)

.PHONY: help run build test stress bench scale fuzz lint clean
