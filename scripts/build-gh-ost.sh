#!/usr/bin/env bash
# Builds gh-ost (github/gh-ost, a Go program) once from the Go module proxy and prints the
# binary's path. Cached outside the work tree, keyed by version, as scripts/build-tidb.sh does for
# tidb-server: ${DMQ_CACHE_DIR:-~/.cache/dmq}/gh-ost/<version>/gh-ost. The online-DDL scenario
# test runs it against its upstream.
set -euo pipefail

# v1.1.6 is the newest release the module proxy serves (later tags are refused with 403).
GH_OST_VERSION="${DMQ_GH_OST_VERSION:-v1.1.6}"
CACHE_DIR="${DMQ_CACHE_DIR:-$HOME/.cache/dmq}/gh-ost/$GH_OST_VERSION"
BIN="$CACHE_DIR/gh-ost"

if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

# Test files may start in parallel: one builds, the others wait for it.
mkdir -p "$(dirname "$CACHE_DIR")"
exec 9>"$CACHE_DIR.lock"
if ! flock -n 9; then
  echo "build-gh-ost: another build of $GH_OST_VERSION is running; waiting for it" >&2
  flock 9
fi
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-gh-ost: no go command; install Go (1.21 or later) or run scripts/build-tidb.sh once, which fetches a Go release" >&2
  exit 1
fi

echo "build-gh-ost: building gh-ost $GH_OST_VERSION into $CACHE_DIR (first time only)" >&2
# `go install pkg@version` asks the proxy for the module's version list (to look for a
# deprecation), which the proxy refuses for gh-ost: a throw-away module that requires the release
# builds it without asking.
mkdir -p "$CACHE_DIR/module"
cd "$CACHE_DIR/module"
cat > go.mod <<MOD
module dmq.local/gh-ost-build

go 1.21

require github.com/github/gh-ost $GH_OST_VERSION
MOD
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/github/gh-ost/go/cmd/gh-ost"
SRC
go mod tidy >&2
go build -ldflags "-X main.AppVersion=$GH_OST_VERSION" -o "$BIN.tmp" github.com/github/gh-ost/go/cmd/gh-ost >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
