#!/usr/bin/env bash
# Builds tidb-server once from the Go module proxy and prints the binary's path.
# The binary is cached outside the work tree, keyed by version, so tests, benchmarks and the
# demo share it: ${DMQ_CACHE_DIR:-~/.cache/dmq}/tidb/<version>/tidb-server.
# TiDB's go.mod has replace lines, so `go install pkg@version` refuses it; a throw-away module
# that requires TiDB and repeats those replace lines (as DM's own go.mod does) builds it.
set -euo pipefail

# TiDB v8.5.6 (LTS): the module has no /v8 path, so the release is pinned by its commit's
# pseudo-version, and its parser (a nested module) by the parser's commit at that tag.
TIDB_RELEASE="v8.5.6"
TIDB_VERSION="${DMQ_TIDB_VERSION:-v1.1.0-beta.0.20260413061245-ae18096e0237}"
PARSER_VERSION="${DMQ_TIDB_PARSER_VERSION:-v0.0.0-20260331085336-4e0b702f38a8}"
# TiDB 8.5 refuses to start when built by another Go than 1.25 (its map-ABI hack checks), so the
# go command fetches that toolchain from the module proxy, whatever Go the machine has.
GO_TOOLCHAIN="${DMQ_TIDB_GO:-go1.25.14}"
CACHE_DIR="${DMQ_CACHE_DIR:-$HOME/.cache/dmq}/tidb/$TIDB_RELEASE-$TIDB_VERSION-$GO_TOOLCHAIN"
BIN="$CACHE_DIR/tidb-server"

# Two builds at once would share the module directory and halve the speed.
source "$(dirname "$0")/cached-build.sh"
reuse_or_lock "$BIN" "$CACHE_DIR" "build-tidb ($TIDB_RELEASE)"

# Go releases are modules of the proxy too (golang.org/toolchain): a machine without a Go of
# 1.21 or later (Debian 12 has 1.19) takes the release TiDB wants from there, with curl.
GO_BIN=""
for candidate in "$(command -v go || true)" /usr/local/go/bin/go; do
  [[ -x "$candidate" ]] || continue
  minor=$("$candidate" env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
  if [[ "$minor" =~ ^[0-9]+$ ]] && (( minor >= 21 )); then GO_BIN="$candidate"; break; fi
done
if [[ -z "$GO_BIN" ]]; then
  TOOLCHAIN_DIR="${DMQ_CACHE_DIR:-$HOME/.cache/dmq}/go/$GO_TOOLCHAIN"
  if [[ ! -x "$TOOLCHAIN_DIR/bin/go" ]]; then
    proxy="${GOPROXY:-https://proxy.golang.org}"
    proxy="${proxy%%,*}"
    zip="golang.org/toolchain/@v/v0.0.1-$GO_TOOLCHAIN.linux-$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/').zip"
    echo "build-tidb: no Go 1.21 or later here; fetching $GO_TOOLCHAIN from $proxy" >&2
    rm -rf "$TOOLCHAIN_DIR.tmp" && mkdir -p "$TOOLCHAIN_DIR.tmp"
    curl -fsSL "$proxy/$zip" -o "$TOOLCHAIN_DIR.tmp/go.zip"
    (cd "$TOOLCHAIN_DIR.tmp" && unzip -q go.zip && rm go.zip)
    rm -rf "$TOOLCHAIN_DIR" && mv "$TOOLCHAIN_DIR.tmp"/golang.org/toolchain@* "$TOOLCHAIN_DIR" && rm -rf "$TOOLCHAIN_DIR.tmp"
    chmod +x "$TOOLCHAIN_DIR"/bin/* "$TOOLCHAIN_DIR"/pkg/tool/*/*
  fi
  GO_BIN="$TOOLCHAIN_DIR/bin/go"
fi
go() { "$GO_BIN" "$@"; }

export GOTOOLCHAIN="$GO_TOOLCHAIN"
mkdir -p "$CACHE_DIR/module"
cd "$CACHE_DIR/module"
cat > go.mod <<MOD
module dmq.local/tidb-build

go 1.25

require (
	github.com/pingcap/tidb $TIDB_VERSION
	github.com/pingcap/tidb/pkg/parser $PARSER_VERSION
)

replace (
	github.com/apache/arrow-go/v18 => github.com/joechenrh/arrow-go/v18 v18.0.0-20250911101656-62c34c9a3b82
	github.com/go-ldap/ldap/v3 v3.4.4 => github.com/yangkeao/ldap/v3 v3.4.5-0.20230421065457-369a3bab1117
	go.opencensus.io => go.opencensus.io v0.23.1-0.20220331163232-052120675fac
	sourcegraph.com/sourcegraph/appdash => github.com/sourcegraph/appdash v0.0.0-20190731080439-ebfcffb1b5c0
	sourcegraph.com/sourcegraph/appdash-data => github.com/sourcegraph/appdash-data v0.0.0-20151005221446-73f23eafcf67
)
MOD
cat > tools.go <<'SRC'
//go:build tools

package tools

import _ "github.com/pingcap/tidb/cmd/tidb-server"
SRC

echo "build-tidb: building tidb-server $TIDB_RELEASE ($TIDB_VERSION) into $CACHE_DIR (first time only; several minutes)" >&2
start=$(date +%s)
go mod tidy >&2
# Without the release stamped in, tidb_version() says "v8.4.0-this-is-a-placeholder".
go build -ldflags "-X github.com/pingcap/tidb/pkg/parser/mysql.TiDBReleaseVersion=$TIDB_RELEASE" \
  -o "$BIN.tmp" github.com/pingcap/tidb/cmd/tidb-server >&2
mv "$BIN.tmp" "$BIN"
echo "build-tidb: built in $(( $(date +%s) - start )) s" >&2
echo "$BIN"
