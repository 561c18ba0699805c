#!/usr/bin/env bash
# The project's test command (npm test, CI): lint, types, unit tests, then every scenario test
# against a MariaDB target and again against a TiDB target (tidb-server built once, see
# scripts/build-tidb.sh), then once, against a MariaDB target, the tests whose subject does not
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
# The service and fault tests start their own servers, so they run beside the MariaDB scenarios
# (this keeps the suite near 20 minutes on two cores); their output follows when both are done.
faults_log=$(mktemp)
DMQ_TEST_TARGET=mariadb node --import tsx test/harness/launch.ts test/service test/faults >"$faults_log" 2>&1 &
faults_pid=$!
trap 'kill "$faults_pid" 2>/dev/null || true' EXIT
echo "test: scenario tests against a MariaDB target (the service and fault tests run beside them)"
scenario_status=0
DMQ_TEST_TARGET=mariadb node --import tsx test/harness/launch.ts test/scenario || scenario_status=$?
faults_status=0
wait "$faults_pid" || faults_status=$?
trap - EXIT
echo "test: service and fault tests against a MariaDB target (ran beside the scenarios)"
cat "$faults_log"
rm -f "$faults_log"
if [ "$scenario_status" -ne 0 ] || [ "$faults_status" -ne 0 ]; then
  echo "test: failed (MariaDB scenarios: exit $scenario_status; service and fault tests: exit $faults_status)"
  exit 1
fi
echo "test: scenario tests against a TiDB target ($("$DMQ_TIDB_SERVER" -V | sed -n 's/^Release Version: //p'))"
DMQ_TEST_TARGET=tidb node --import tsx test/harness/launch.ts test/scenario
echo "test: all passed in $(( $(date +%s) - started )) s"
