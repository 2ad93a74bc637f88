# Kiln's build. GOEXPERIMENT=simd enables simd/archsimd kernels (AVX-512);
# files using it carry a portable fallback, so plain `go build` works too.
export GOEXPERIMENT := simd
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN     := bin/kiln

.PHONY: build build-beam test test-beam vet fmt demo bench clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kiln

# Beam (distributed curation) is behind a build tag: it makes the binary
# 2.7x larger and a cold build 3x slower (docs/DEPENDENCIES.md).
build-beam:
	$(GO) build -tags beam -ldflags "$(LDFLAGS)" -o bin/kiln-beam ./cmd/kiln

# The Beam tests (prism equivalence with the local executor, offline graph
# validation for Flink and Dataflow); part of make test.
test-beam:
	$(GO) vet -tags beam ./pipeline/beam/ ./cmd/kiln/
	$(GO) test -tags beam ./pipeline/beam/
	$(GO) test -tags beam -run 'Beam' ./cmd/kiln/

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w .

test: vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) test -timeout 20m ./...
	$(MAKE) test-beam

demo: build
	$(BIN) demo -o demo-run

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

clean:
	rm -rf bin demo-run
