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
has mariadbd || missing+=(mariadb-server)
has mariadb || missing+=(mariadb-client)
# --browser: the tests drive Debian's Chromium headless (task page).
if [ "${1:-}" = "--browser" ]; then has chromium || missing+=(chromium); fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]} with apt"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
else
  echo "install-deps: redis-server, mariadbd, mariadb${1:+ and chromium} already installed"
fi

# npm writes node_modules/.package-lock.json on every install; older than the lock file means stale.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: node_modules missing or older than package-lock.json, running npm ci"
  npm ci
else
  echo "install-deps: node_modules up to date"
fi
