import type { Redis } from 'ioredis';

/**
 * What an operator decided for one binlog event (`dmq binlog skip|replace|inject`). At the
 * `apply` stage, for a batch the target rejected: the applier writes nothing for it, or the
 * given statements instead of it, or before it, and moves the table's checkpoint past it as
 * usual. At the `read` stage, for an event the reader refused (a DDL it cannot read, a filter's
 * Error action) or a statement ahead: the reader drops it, or reads the given statements as if
 * the source had run them instead of it, or before it.
 */
export type BinlogOp = ({ op: 'skip' } | { op: 'replace' | 'inject'; sqls: string[] }) & { stage?: BinlogOpStage };
export type BinlogOpStage = 'read' | 'apply';

export const binlogOpsKey = (task: string) => `dmq:binlog-ops:${task}`;
const field = (sourceId: string, coord: string) => JSON.stringify([sourceId, coord]);

export async function setBinlogOp(redis: Redis, task: string, sourceId: string, coord: string, op: BinlogOp): Promise<void> {
  await redis.hset(binlogOpsKey(task), field(sourceId, coord), JSON.stringify(op));
}

/** The operations of one source for one stage, by coordinate. */
export async function readBinlogOps(redis: Redis, task: string, sourceId: string, stage: BinlogOpStage): Promise<Map<string, BinlogOp>> {
  return binlogOpsOf(await redis.hgetall(binlogOpsKey(task)), sourceId, stage);
}

/** The same, from the hash already read (in a pipeline with other reads). */
export function binlogOpsOf(all: Record<string, string>, sourceId: string, stage: BinlogOpStage): Map<string, BinlogOp> {
  const ops = new Map<string, BinlogOp>();
  for (const [f, value] of Object.entries(all)) {
    const [source, coord] = JSON.parse(f) as [string, string];
    const op = JSON.parse(value) as BinlogOp;
    if (source === sourceId && (op.stage ?? 'apply') === stage) ops.set(coord, op);
  }
  return ops;
}

/** Every operation of the task, by source and coordinate. */
export async function listBinlogOps(redis: Redis, task: string): Promise<{ sourceId: string; coord: string; op: BinlogOp }[]> {
  return Object.entries(await redis.hgetall(binlogOpsKey(task))).map(([f, value]) => {
    const [sourceId, coord] = JSON.parse(f) as [string, string];
    return { sourceId, coord, op: JSON.parse(value) as BinlogOp };
  });
}

/** Removes one operation; whether there was one. */
export async function removeBinlogOp(redis: Redis, task: string, sourceId: string, coord: string): Promise<boolean> {
  return (await redis.hdel(binlogOpsKey(task), field(sourceId, coord))) === 1;
}

export async function forgetBinlogOps(redis: Redis, task: string): Promise<void> {
  await redis.del(binlogOpsKey(task));
}
