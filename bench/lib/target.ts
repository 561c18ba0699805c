/** The server dmq writes into in a benchmark: a MariaDB (standing for any MySQL-compatible target) or a tidb-server. */
import { join } from 'node:path';
import { startMember, TARGET, type TargetKind, type TargetServer } from '../../test/harness/servers.js';
import { startTidb, tidbBinary } from '../../test/harness/tidb.js';
import { log } from './format.js';

/** The sampler's label of the target's server process. */
export function targetLabel(kind: TargetKind): string {
  return kind === 'tidb' ? 'target tidb-server' : 'target mariadbd';
}

/** The target in `dir`/target, with the test harness's settings for its kind. */
export async function startTarget(kind: TargetKind, dir: string): Promise<TargetServer> {
  if (kind === 'mariadb') return startMember(dir, TARGET);
  // Said before the wait: without a cached binary, the build takes about a quarter of an hour.
  log('tidb-server: scripts/build-tidb.sh finds it in its cache, or builds it once (~15 min on 2 cores)');
  log(`tidb-server: ${await tidbBinary()}`);
  return startTidb({ dir: join(dir, TARGET.name) });
}

/** The target as a report's header names it: kind, `SELECT VERSION()`, and how it runs. */
export function describeTarget(kind: TargetKind, version: string): string {
  const how =
    kind === 'tidb'
      ? 'one tidb-server with its embedded unistore store, default settings'
      : 'innodb_buffer_pool_size 128M, innodb_flush_log_at_trx_commit 2, no binlog';
  return `${kind} ${version} (${how})`;
}
