import { listShardLocks, resolveShardLockStatement, type ShardLock } from '../shared/checkpoint/shard-lock.js';
import { DmqError } from '../shared/errors.js';
import { formatStatement } from '../shared/sql/script.js';
import { taskMeta, type ServiceContext } from '../shared/task/context.js';

/** `dmq shard-ddl-lock [task]`: the pessimistic shard DDL locks not yet resolved. */
export async function taskShardLocks(ctx: ServiceContext, name: string): Promise<ShardLock[]> {
  const task = await ctx.registry.requireTask(name);
  return listShardLocks(ctx.pools.target(task), taskMeta(task), task);
}

/**
 * `dmq shard-ddl-lock unlock <lock-id>`: resolve the oldest unresolved lock of that table
 * without waiting for the missing shards. The DDL runs on the target now (DM's default), or
 * not at all with `forceRemove`; shards that reach it later go past it.
 */
export async function unlockShardLock(ctx: ServiceContext, name: string, lockId: string, forceRemove: boolean): Promise<ShardLock> {
  const task = await ctx.registry.requireTask(name);
  const meta = taskMeta(task);
  const pool = ctx.pools.target(task);
  const lock = (await listShardLocks(pool, meta, task)).find((l) => l.id === lockId);
  if (!lock) {
    throw new DmqError('CONFIG_INVALID', `task "${name}" has no unresolved shard DDL lock "${lockId}"`, {
      where: 'lock-id',
      workaround: `\`dmq shard-ddl-lock ${name}\` lists the locks and their ids`,
    });
  }
  if (lock.state === 'executing') {
    throw new DmqError('CONFIG_INVALID', `the DDL of lock "${lockId}" is running on the target now (started by ${lock.owner})`, {
      where: 'lock-id',
      workaround: 'wait for it to finish; `dmq query-status` shows an error if the target rejects it',
    });
  }
  const conn = await pool.getConnection();
  try {
    if (!forceRemove) {
      try {
        await conn.query(lock.ddl);
      } catch (err) {
        throw new DmqError(
          'DDL_REJECTED',
          `the target rejects the DDL of lock "${lockId}": ${(err as Error).message} (the DDL: ${lock.ddl})`,
          {
            cause: err,
            where: 'lock-id',
            workaround: 'fix the target and unlock again, or unlock with --force-remove to go on without running it',
          },
        );
      }
    }
    await conn.query(formatStatement(resolveShardLockStatement(meta, lock.target, lock.seq, forceRemove ? 'unlocked' : 'executed')));
  } finally {
    conn.release();
  }
  ctx.log.info({ task: name, lock: lockId, seq: lock.seq, forceRemove, missing: lock.missing }, 'shard DDL lock resolved by the operator');
  return lock;
}
