#!/usr/bin/env bash
# Builds the Go test server twice from this directory, with the Go standard library only:
#   OUT_DIR/go-server      pure Go (CGO_ENABLED=0; no C compiler needed)
#   OUT_DIR/go-server-cgo  -tags cgoblock: the handler blocks in a C call (needs gcc or $CC)
# and prints both paths, one a line. Offline: no module is downloaded (go.mod requires none).
# The Go build cache lives in a temporary directory removed on exit, or in $GOCACHE when that is
# set; nothing goes to $HOME.
#
#   tests/servers/go/build.sh /usr/local/lib/numaload
set -euo pipefail
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
if ! command -v go >/dev/null 2>&1; then
  echo "$0: 'go' not found: install Go (Debian: apt-get install golang-go, or run scripts/setup-system.sh)" >&2
  exit 1
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
export GOCACHE="${GOCACHE:-$tmp/cache}" GOPATH="$tmp/gopath" GOMODCACHE="$tmp/gopath/pkg/mod"
export GOENV=off GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOTOOLCHAIN=local
cd "$src"
CGO_ENABLED=0 go build -trimpath -o "$out/go-server" .
cc=${CC:-$(go env CC)}
if ! command -v "${cc%% *}" >/dev/null 2>&1; then
  echo "$0: built $out/go-server; the cgo build needs a C compiler ('$cc' not found: apt-get install gcc)" >&2
  exit 1
fi
CGO_ENABLED=1 go build -trimpath -tags cgoblock -o "$out/go-server-cgo" .
echo "$out/go-server"
echo "$out/go-server-cgo"
