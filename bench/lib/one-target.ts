import { join } from 'node:path';
import { startMariadb, startRedis, UPSTREAM_PASSWORD, type TargetKind } from '../../test/harness/servers.js';
import { log } from './format.js';
import { startSampler, startServers } from './processes.js';
import { serverVersion } from './sql.js';
import { startTarget, targetLabel } from './target.js';

/** A private Redis, an upstream MariaDB with its binlog on and one target in `dir`, and a CPU sampler of the three. */
export async function startOneTarget(dir: string, kind: TargetKind) {
  const targetProcess = targetLabel(kind);
  const labels = ['redis', 'upstream mariadbd', targetProcess];
  const [redis, upstream, target] = await startServers(labels, [
    startRedis({ dir: join(dir, 'redis') }),
    startMariadb({ dir: join(dir, 'upstream'), serverId: 1, binlog: true, rootPassword: UPSTREAM_PASSWORD }),
    startTarget(kind, dir),
  ]);
  const targetVersion = await serverVersion(target);
  log(`redis :${redis.port}, upstream mariadbd :${upstream.port} (binlog), ${targetProcess} :${target.port} (${targetVersion})`);
  return { redis, upstream, target, targetProcess, labels, targetVersion, sampler: startSampler(labels, [redis, upstream, target]) };
}
