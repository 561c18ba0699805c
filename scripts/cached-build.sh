# Sourced by the scripts that build a binary into dmq's cache (build-tidb.sh, build-gh-ost.sh).
# reuse_or_lock BIN CACHE_DIR LABEL: prints BIN and ends the script when it is built already;
# otherwise takes the cache directory's build lock, so that test files starting in parallel build
# it once (the others wait for that build, then find the binary), and returns to build it.
reuse_or_lock() {
  local bin=$1 cache_dir=$2 label=$3
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
  mkdir -p "$(dirname "$cache_dir")"
  exec 9>"$cache_dir.lock"
  if ! flock -n 9; then
    echo "$label: another build is running; waiting for it" >&2
    flock 9
  fi
  if [[ -x "$bin" ]]; then
    echo "$bin"
    exit 0
  fi
}
