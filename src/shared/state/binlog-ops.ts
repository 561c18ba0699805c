import type { Redis } from 'ioredis';

/**
 * What an operator decided for one binlog batch that the target rejected (`dmq binlog skip` or
 * `binlog replace`): the applier writes nothing for it, or the given statements, and moves the
 * table's checkpoint past it as usual.
 */
export type BinlogOp = { op: 'skip' } | { op: 'replace'; sqls: string[] };

const key = (task: string) => `dmq:binlog-ops:${task}`;
const field = (sourceId: string, coord: string) => JSON.stringify([sourceId, coord]);

export async function setBinlogOp(redis: Redis, task: string, sourceId: string, coord: string, op: BinlogOp): Promise<void> {
  await redis.hset(key(task), field(sourceId, coord), JSON.stringify(op));
}

/** The operations of one source, by batch coordinate. */
export async function readBinlogOps(redis: Redis, task: string, sourceId: string): Promise<Map<string, BinlogOp>> {
  const all = await redis.hgetall(key(task));
  const ops = new Map<string, BinlogOp>();
  for (const [f, value] of Object.entries(all)) {
    const [source, coord] = JSON.parse(f) as [string, string];
    if (source === sourceId) ops.set(coord, JSON.parse(value) as BinlogOp);
  }
  return ops;
}

export async function forgetBinlogOps(redis: Redis, task: string): Promise<void> {
  await redis.del(key(task));
}
