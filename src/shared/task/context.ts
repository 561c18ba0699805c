import type { Redis } from 'ioredis';
import type { SourceConfig, TaskConfig } from '../config/types.js';
import { metaTables, type MetaTables } from '../checkpoint/meta-schema.js';
import { DmqError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ByteBudget } from '../memory/byte-budget.js';
import type { QueueCache } from '../queue/queues.js';
import type { RedisHealth } from '../redis/outage.js';
import type { PoolCache } from '../sql/pools.js';
import type { Registry } from '../state/registry.js';
import type { DumpStore } from '../store/dump-store.js';

/** How chunks of `full` and `all` tasks travel: straight from source to target, or through chunk files. */
export type CopyPath = 'direct' | 'files';

/** What every part (API, job handlers, binlog readers) is given: the edges it may touch. */
export interface ServiceContext {
  redis: Redis;
  /** This process's view of Redis: outages told once, shown in status and /metrics. */
  redisHealth: RedisHealth;
  registry: Registry;
  queues: QueueCache;
  store: DumpStore;
  /** `DMQ_COPY_PATH`: how this process copies the chunks of `full` and `all` tasks it starts. */
  copyPath: CopyPath;
  /** `DMQ_COPY_BUFFER_MIB`: the bytes of rows all the chunks this process copies may hold between source and target. */
  copyBudget: ByteBudget;
  pools: PoolCache;
  log: Logger;
}

export function taskMeta(task: TaskConfig): MetaTables {
  return metaTables(task.metaSchema, task.name);
}

export async function requireSource(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<SourceConfig> {
  const source = await ctx.registry.getSource(sourceId);
  if (!source) {
    throw new DmqError('SOURCE_NOT_FOUND', `task "${task.name}": source "${sourceId}" is not registered`, {
      where: `mysql-instances[${task.instances.findIndex((i) => i.sourceId === sourceId)}].source-id`,
      workaround: 'register it with `dmq operate-source create source.yaml`, then `dmq resume-task`',
    });
  }
  return source;
}
