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
# Two stacks run two test files at a time (tests mostly wait on servers, so two cores keep up);
# the longest files start first. The service and fault tests (test/service, test/faults) do not
# depend on the target's kind, so they run once, in the MariaDB pass.
echo "test: scenario, service and fault tests against a MariaDB target"
DMQ_TEST_TARGET=mariadb node --import tsx test/harness/launch.ts --stacks 2 test/scenario test/service test/faults
# The scenario of a source without binlog_row_metadata=FULL is about decoding the source's
# binlog; what it writes on the target (the schema tracker's table) every `all` scenario writes too.
SOURCE_ONLY=(test/scenario/minimal-metadata.test.ts)
tidb_files=()
for file in test/scenario/*.test.ts; do
  [[ " ${SOURCE_ONLY[*]} " == *" $file "* ]] || tidb_files+=("$file")
done
echo "test: scenario tests against a TiDB target ($("$DMQ_TIDB_SERVER" -V | sed -n 's/^Release Version: //p'))"
DMQ_TEST_TARGET=tidb node --import tsx test/harness/launch.ts --stacks 2 "${tidb_files[@]}"
echo "test: all passed in $(( $(date +%s) - started )) s"
