#!/usr/bin/env bash
# Installs only what is missing, so it is cheap to run before every test run. It leaves the
# system's own MariaDB and Redis services alone: the tests start private servers.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi

# mariadbd is in /usr/sbin, which a non-root PATH may lack.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
has redis-server || missing+=(redis-server)
# test/faults: a Redis failover through Sentinel.
has redis-sentinel || missing+=(redis-sentinel)
has mariadbd || missing+=(mariadb-server)
has mariadb || missing+=(mariadb-client)
# The TLS scenario makes its certificates with openssl and captures the loopback with tcpdump.
has openssl || missing+=(openssl)
has tcpdump || missing+=(tcpdump)
# The fault tests relay a source over a network namespace's link (ip netns, socat).
has ip || missing+=(iproute2)
has socat || missing+=(socat)
# The online-DDL scenario alters tables with pt-online-schema-change (and gh-ost, which
# scripts/build-gh-ost.sh builds with Go).
has pt-online-schema-change || missing+=(percona-toolkit)
# --browser: the tests drive Debian's Chromium headless (task page).
# --tidb: tidb-server is built from the Go module proxy (scripts/build-tidb.sh), which takes the
# Go release it needs from the proxy too; it needs curl and unzip for that.
browser=false
tidb=false
for option in "$@"; do
  case "$option" in
    --browser) browser=true ;;
    --tidb) tidb=true ;;
    *) echo "install-deps: unknown option $option (expected --browser, --tidb)" >&2; exit 2 ;;
  esac
done
if $browser; then has chromium || missing+=(chromium); fi
if $tidb && [ -z "${DMQ_TIDB_SERVER:-}" ]; then
  has curl || missing+=(curl)
  has unzip || missing+=(unzip)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]} with apt"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
  echo "install-deps: everything needed is installed"
fi

# npm writes node_modules/.package-lock.json on every install; older than the lock file means stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: node_modules missing or older than package-lock.json, running npm ci"
  npm ci
else
  echo "install-deps: node_modules up to date"
fi
