#!/usr/bin/env bash
# Builds gh-ost (github/gh-ost, a Go program) once from the Go module proxy and prints the
# binary's path. Cached outside the work tree, keyed by version, as scripts/build-tidb.sh does for
# tidb-server: ${DMQ_CACHE_DIR:-~/.cache/dmq}/gh-ost/<version>-mariadb/gh-ost. The online-DDL
# scenario test runs it against its MariaDB upstreams.
set -euo pipefail

# v1.1.6 is the newest release the module proxy serves (it refuses later tags and the version list).
GH_OST_VERSION="${DMQ_GH_OST_VERSION:-v1.1.6}"
CACHE_DIR="${DMQ_CACHE_DIR:-$HOME/.cache/dmq}/gh-ost/$GH_OST_VERSION-mariadb"
BIN="$CACHE_DIR/gh-ost"

source "$(dirname "$0")/cached-build.sh"
reuse_or_lock "$BIN" "$CACHE_DIR" "build-gh-ost ($GH_OST_VERSION)"

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-gh-ost: no go command; install Go 1.21 or later (scripts/build-tidb.sh fetches one into the cache)" >&2
  exit 1
fi

echo "build-gh-ost: building gh-ost $GH_OST_VERSION into $CACHE_DIR (first time only)" >&2
# `go install pkg@version` asks the proxy for the module's version list (to look for a
# deprecation), which the proxy refuses for gh-ost: the release's source is downloaded and built.
src_dir=$(go mod download -json "github.com/github/gh-ost@$GH_OST_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
rm -rf "$CACHE_DIR/src" && mkdir -p "$CACHE_DIR" && cp -r "$src_dir" "$CACHE_DIR/src" && chmod -R u+w "$CACHE_DIR/src"
cd "$CACHE_DIR/src"
# gh-ost sets transaction_isolation in every session; MariaDB before 11.1 knows that variable only
# as tx_isolation and refuses the connection ("Error 1193: Unknown system variable
# 'transaction_isolation'"). The one name changes; nothing else does.
connection=go/mysql/connection.go
grep -q '"transaction_isolation=%q"' "$connection" || {
  echo "build-gh-ost: $connection of $GH_OST_VERSION does not set transaction_isolation as expected" >&2
  exit 1
}
sed -i 's/"transaction_isolation=%q"/"tx_isolation=%q"/' "$connection"
# The module's zip carries vendor/modules.txt without the packages: build from the module cache.
rm -rf vendor
go build -mod=mod -ldflags "-X main.AppVersion=$GH_OST_VERSION-mariadb" -o "$BIN.tmp" ./go/cmd/gh-ost >&2
mv "$BIN.tmp" "$BIN"
echo "$BIN"
