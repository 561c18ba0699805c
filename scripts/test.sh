#!/usr/bin/env bash
# The project's test command (npm test, CI). Arguments pick test files; none means all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --browser
echo "test: formatting and lint (biome)"
npx biome check --error-on-warnings .
echo "test: type-checking src, test, bench and scripts"
npx tsc -p tsconfig.test.json --noEmit
# Scenario tests spawn bin/dmq.js, which runs dist/.
echo "test: building dist/"
npm run build --silent
exec node --import tsx test/harness/launch.ts "$@"
