#!/usr/bin/env bash
# Prints the Go packages whose tests start QEMU (those that call
# testenv.RequireQEMU, testenv.StartQEMU or guest.Start), as ./dir
# patterns: what `make test-qemu` runs again against another QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*_test.go' | xargs grep -l -E 'testenv\.(RequireQEMU|StartQEMU)\(|guest\.Start\(' |
  xargs -n1 dirname | sort -u | sed 's#^\.$#.#; s#^\([^.]\)#./\1#'
