#!/usr/bin/env bash
# The project's test command (npm test, CI): lint, types, unit tests, then every scenario test
# against a MariaDB target and again against a TiDB target (tidb-server built once, see
# scripts/build-tidb.sh), and once, against a MariaDB target, the tests whose subject does not
# depend on the target's kind: the service (API, security, Redis; test/service) and the faults
# (processes, Redis and the network; test/faults). Arguments pick test files instead, run against
# DMQ_TEST_TARGET (mariadb unless it says tidb).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --browser --tidb
echo "test: formatting and lint (biome)"
npx biome check --error-on-warnings .
echo "test: type-checking src, test, bench and scripts"
npx tsc -p tsconfig.test.json --noEmit
# Scenario tests spawn bin/dmq.js, which runs dist/.
echo "test: building dist/"
npm run build --silent
if [ $# -gt 0 ]; then
  exec node --import tsx test/harness/launch.ts "$@"
fi

started=$(date +%s)
echo "test: building or finding tidb-server"
DMQ_TIDB_SERVER=$(bash scripts/build-tidb.sh)
export DMQ_TIDB_SERVER
echo "test: unit tests (no servers)"
node --import tsx test/harness/launch.ts test/unit
# The MariaDB pass and the TiDB pass run at once, each on two stacks, so four test files run at
# a time: tests mostly wait on servers, replication and timers, so two cores keep up. In each
# pass the longest files start first. The service and fault tests (test/service, test/faults) do
# not depend on the target's kind, so they run once, in the MariaDB pass. The scenario of a source
# without binlog_row_metadata=FULL is about decoding the source's binlog; what it writes on the
# target (the schema tracker's table) every `all` scenario writes too, so TiDB skips it.
SOURCE_ONLY=(test/scenario/minimal-metadata.test.ts)
tidb_files=()
for file in test/scenario/*.test.ts; do
  [[ " ${SOURCE_ONLY[*]} " == *" $file "* ]] || tidb_files+=("$file")
done
tidb_version=$("$DMQ_TIDB_SERVER" -V | sed -n 's/^Release Version: //p')
# Each line of a pass's output carries its target, since the two passes' files end interleaved.
run_pass() {
  local kind=$1
  shift
  DMQ_TEST_TARGET=$kind node --import tsx test/harness/launch.ts --stacks 2 "$@" 2>&1 | sed -u "s/^/[$kind] /"
  return "${PIPESTATUS[0]}"
}
echo "test: scenario, service and fault tests against a MariaDB target, and scenario tests against a TiDB target ($tidb_version), at once"
run_pass mariadb test/scenario test/service test/faults &
mariadb_pass=$!
run_pass tidb "${tidb_files[@]}" &
tidb_pass=$!
failed=()
wait "$mariadb_pass" || failed+=(mariadb)
wait "$tidb_pass" || failed+=(tidb)
if [ ${#failed[@]} -gt 0 ]; then
  echo "test: FAILED in the ${failed[*]} pass(es) after $(( $(date +%s) - started )) s (see the [${failed[0]}] lines above)"
  exit 1
fi
echo "test: all passed in $(( $(date +%s) - started )) s"
