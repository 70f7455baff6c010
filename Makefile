# cloudtrim — see README.md.
GO       ?= go
export GOFLAGS := -buildvcs=false
FUNCTIONS := collect-aws collect-azure collect-gcp optimize approve actuate
BIN      := bin
DIST     := dist
# Local stand-ins the tests start (fauxqs on Node 22, versitygw), installed
# once by tools/standins/install.sh and cached here.
CLOUDTRIM_STANDINS ?= $(HOME)/.cache/cloudtrim/standins
export CLOUDTRIM_STANDINS

.PHONY: all build demo test vet unit bench package package-lambda package-azure package-gcp clean fmt standins fuzz

# How long make fuzz (and so make test) fuzzes each target.
FUZZTIME ?= 5s

all: build

build:
	$(GO) build -o $(BIN)/ ./functions/...

## demo: the whole pipeline on the simulated three-cloud estate, no cloud account needed
demo: build
	./$(BIN)/cloudtrim demo --dir .cloudtrim/demo

## test: vet, formatting, unit, conformance, golden and end-to-end tests (race detector on),
## then every fuzz target for FUZZTIME (make fuzz)
test: vet standins
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	CLOUDTRIM_REQUIRE_STANDINS=1 $(GO) test -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz

## fuzz: every Fuzz target of the module, found by tools/fuzz, for FUZZTIME each (default 5s),
## one after the other; a failure fails the target and names the crasher kept in the package's
## testdata/fuzz. FUZZINSTRUMENT=all instruments every package, as go test -fuzz does.
fuzz:
	GO=$(GO) $(GO) run ./tools/fuzz -fuzztime $(FUZZTIME)

## standins: install the local stand-ins the tests start (cached; idempotent)
standins:
	bash tools/standins/install.sh

vet:
	$(GO) vet ./...

## bench: the performance targets as a printed table (the billing table installs
## DuckDB's Node API from npm and runs it on the stand-ins' Node 22)
bench: package standins
	$(GO) run ./tools/bench

## package: the zips SAM deploys: a linux/arm64 'bootstrap' per function, built
## with the Lambda host only (tag awslambda) and no RPC mode (lambda.norpc); and
## dist/azure.zip, the Azure function app: the linux/amd64 custom handler
## cloudtrim-azure beside infra/azure's host.json and function folders; and
## dist/gcp, the linux/amd64 cloudtrim-gcp beside infra/gcp's Dockerfile, the
## source Cloud Build makes the Cloud Run image from
package: package-lambda package-azure package-gcp
package-lambda:
	@mkdir -p $(DIST)
	@for f in $(FUNCTIONS); do \
		echo "package $$f"; \
		mkdir -p $(DIST)/$$f && \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc,awslambda -trimpath -ldflags='-s -w' -o $(DIST)/$$f/bootstrap ./functions/$$f || exit 1; \
		$(GO) run ./tools/zipdir $(DIST)/$$f $(DIST)/$$f.zip || exit 1; \
	done

AZURE_FUNCTIONS := collect optimize ingest approve actuate
package-azure:
	@echo "package azure"
	@rm -rf $(DIST)/azure && mkdir -p $(DIST)/azure
	@cp infra/azure/host.json $(DIST)/azure/
	@for f in $(AZURE_FUNCTIONS); do mkdir -p $(DIST)/azure/$$f && cp infra/azure/$$f/function.json $(DIST)/azure/$$f/ || exit 1; done
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags azurefunc -trimpath -ldflags='-s -w' -o $(DIST)/azure/cloudtrim-azure ./functions/azure
	$(GO) run ./tools/zipdir $(DIST)/azure $(DIST)/azure.zip

package-gcp:
	@echo "package gcp"
	@rm -rf $(DIST)/gcp && mkdir -p $(DIST)/gcp
	@cp infra/gcp/Dockerfile $(DIST)/gcp/
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -tags gcpfunc -trimpath -ldflags='-s -w' -o $(DIST)/gcp/cloudtrim-gcp ./functions/gcp

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) $(DIST) .cloudtrim
