# nicplug — see README.md. Every target installs missing host packages first.
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

.PHONY: deps demo test test-qemu test-qemu10 bench bench-qemu10 lint

deps:
	./scripts/install-deps.sh

# Main job: boot a real guest with an unplugged NIC, plug it, switch, unplug.
demo: deps
	$(GO) run ./demo

# All tests: every package on the system's QEMU (7.2 on bookworm), then
# every package that starts QEMU again on QEMU 10.0 (test-qemu10). Set
# NICPLUG_CI=1 to turn privileged/QEMU skips into failures.
test: deps lint
	$(GO) test -race -count=1 -timeout 60m ./...
	$(MAKE) --no-print-directory test-qemu10

# The packages that start QEMU, against the QEMU binary QEMU names:
#   make test-qemu QEMU=/opt/qemu-9.2/bin/qemu-system-x86_64
# (the same as NICPLUG_QEMU=… go test ./...; every helper honours it).
test-qemu:
	@test -n "$(QEMU)" || { echo "test-qemu: set QEMU=/path/to/qemu-system-x86_64"; exit 2; }
	@echo "test-qemu: $$($(QEMU) --version | head -n 1)"
	NICPLUG_QEMU=$(QEMU) $(GO) test -race -count=1 -timeout 60m $$(./scripts/qemu-packages.sh)

# The same against Debian's QEMU 10.0 from bookworm-backports, unpacked
# beside the system's by scripts/install-qemu10.sh (cached).
test-qemu10: deps
	$(MAKE) --no-print-directory test-qemu QEMU=$$(./scripts/install-qemu10.sh)

# gofmt, vet; and the library and CLI still build off Linux (macOS:
# vet with the tests too; Windows: the packages), where what needs Linux
# (network namespaces, macvtaps, flock) is refused with ErrUnsupported.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) build ./...

# End-to-end benchmarks: one table (docs/performance.md). Needs root for the
# macvtap, tap, throughput, distribution-guest and datapath rows; takes ~16 minutes
# (the distribution guests' carrier-hold part 7 alone ~14, the datapath part 8 ~20 s).
bench: deps
	$(GO) run ./bench/cmd/benchtable

# The QMP and apply parts again on QEMU 10.0 (docs/performance.md puts
# them beside the system QEMU's).
bench-qemu10: deps
	NICPLUG_QEMU=$$(./scripts/install-qemu10.sh) $(GO) run ./bench/cmd/benchtable -parts qmp,apply
