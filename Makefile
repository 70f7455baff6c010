# cloudtrim — see README.md.
GO       ?= go
export GOFLAGS := -buildvcs=false
FUNCTIONS := collect-aws collect-azure collect-gcp optimize approve actuate
BIN      := bin
DIST     := dist

.PHONY: all build demo test vet unit bench package clean fmt

all: build

build:
	$(GO) build -o $(BIN)/ ./functions/...

## demo: the whole pipeline on the simulated three-cloud estate, no cloud account needed
demo: build
	./$(BIN)/cloudtrim demo --dir .cloudtrim/demo

## test: vet, formatting, unit, conformance, golden and end-to-end tests (race detector on)
test: vet
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

## bench: the performance targets as a printed table
bench:
	$(GO) run ./tools/bench

## package: deployable artifacts (linux/arm64 'bootstrap' binaries zipped per function)
package:
	@mkdir -p $(DIST)
	@for f in $(FUNCTIONS); do \
		echo "package $$f"; \
		mkdir -p $(DIST)/$$f && \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(DIST)/$$f/bootstrap ./functions/$$f || exit 1; \
		$(GO) run ./tools/zipdir $(DIST)/$$f $(DIST)/$$f.zip || exit 1; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) $(DIST) .cloudtrim
