# nicplug — see README.md. Every target installs missing host packages first.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: deps demo test bench lint

deps:
	./scripts/install-deps.sh

# Main job: boot a real guest with an unplugged NIC, plug it, switch, unplug.
demo: deps
	$(GO) run ./demo

# All tests. Set NICPLUG_CI=1 to turn privileged/QEMU skips into failures.
test: deps lint
	$(GO) test -race -count=1 -timeout 60m ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# End-to-end benchmarks: one table (docs/performance.md). Needs root for the
# macvtap, tap and throughput rows; takes several minutes.
bench: deps
	$(GO) run ./bench/cmd/benchtable
