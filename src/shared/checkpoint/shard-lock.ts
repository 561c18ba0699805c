import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import type { TableRef, TaskConfig } from '../config/types.js';
import { DM_ERRORS, DmqError } from '../errors.js';
import { makeRouter } from '../filter/route.js';
import type { Queryable } from '../sql/connect.js';
import { tableLabel } from '../sql/quote.js';
import type { SqlStatement } from '../sql/script.js';
import { metaName, type MetaTables } from './meta-schema.js';
import type { TableSyncRef } from './sync-checkpoint.js';

/**
 * Pessimistic shard DDL locks (DM's shard-ddl-lock). The n-th DDL each shard of a merged
 * target table runs belongs to lock n of that table: it runs on the target once, when every
 * shard has reached it, and the shards that got there first wait (their later rows with them).
 * Everything lives in the meta schema on the target, so locks survive restarts of dmq and Redis.
 */
export type ShardLockState = 'waiting' | 'executing' | 'executed' | 'unlocked';

export interface ShardLock {
  id: string;
  target: TableRef;
  seq: number;
  ddl: string;
  state: ShardLockState;
  owner: string | null;
  arrived: string[];
  missing: string[];
}

type ShardStep =
  | { action: 'run'; seq: number }
  | { action: 'done'; seq: number }
  /** `arrived`: this shard reached the lock just now (not on an earlier try). */
  | { action: 'wait'; seq: number; missing: string[]; arrived: boolean };

const shardLockId = (task: string, target: TableRef) => `${task}-${tableLabel(target)}`;
export const memberLabel = (m: TableSyncRef) => `${m.sourceId}:${tableLabel(m)}`;
const memberKey = (target: TableRef, m: TableSyncRef) =>
  createHash('sha1')
    .update(JSON.stringify([target.schema, target.table, m.sourceId, m.schema, m.table]))
    .digest('hex');

/**
 * The shards of `target`: the tables the copy planned into it and the tables replication has
 * written to it, whichever the task knows of; with `current`, without those dropped upstream.
 */
export async function shardMembers(
  db: Queryable,
  meta: MetaTables,
  task: TaskConfig,
  target: TableRef,
  options: { current: boolean },
): Promise<TableSyncRef[]> {
  const members = new Map<string, TableSyncRef>();
  const add = (m: TableSyncRef) => members.set(memberLabel(m), m);
  const [planned] = await db.query<RowDataPacket[]>(
    `SELECT source_id, schema_name, table_name FROM ${metaName(meta, 'tables')} WHERE target_schema = ? AND target_table = ?`,
    [target.schema, target.table],
  );
  for (const r of planned) add({ sourceId: String(r.source_id), schema: String(r.schema_name), table: String(r.table_name) });
  const [synced] = await db.query<RowDataPacket[]>(
    `SELECT source_id, schema_name, table_name FROM ${metaName(meta, 'syncer')} WHERE is_global = 0 AND table_name <> ''`,
  );
  const routers = new Map(task.instances.map((i) => [i.sourceId, makeRouter(i.routes, task.caseSensitive)]));
  for (const r of synced) {
    const route = routers.get(String(r.source_id));
    if (!route) continue;
    const routed = route(String(r.schema_name), String(r.table_name));
    if (routed.schema === target.schema && routed.table === target.table)
      add({ sourceId: String(r.source_id), schema: String(r.schema_name), table: String(r.table_name) });
  }
  const known = [...members.values()].filter((m) => routers.has(m.sourceId));
  if (!options.current) return known;
  const [left] = await db.query<RowDataPacket[]>(
    `SELECT member_key FROM ${metaName(meta, 'shardLeft')} WHERE target_schema = ? AND target_table = ?`,
    [target.schema, target.table],
  );
  const gone = new Set(left.map((r) => String(r.member_key)));
  return known.filter((m) => !gone.has(memberKey(target, m)));
}

/** The shard's table was dropped upstream: later locks of the merged table no longer wait for it. */
export function leaveShardStatement(meta: MetaTables, target: TableRef, member: TableSyncRef, coord: string): SqlStatement {
  return {
    sql: `REPLACE INTO ${metaName(meta, 'shardLeft')} (member_key, target_schema, target_table, source_id, schema_name, table_name, binlog_coord, left_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NOW(3))`,
    values: [memberKey(target, member), target.schema, target.table, member.sourceId, member.schema, member.table, coord],
  };
}

/**
 * The shard's table was created (again) upstream: it takes part in locks again, from the next
 * one on. It counts as having reached the locks that exist now: it was made after their DDL
 * (or dropped before it), so the other shards must not wait for it, nor it for them.
 */
export function joinShardStatements(meta: MetaTables, target: TableRef, member: TableSyncRef, coord: string): SqlStatement[] {
  const key = memberKey(target, member);
  return [
    { sql: `DELETE FROM ${metaName(meta, 'shardLeft')} WHERE member_key = ?`, values: [key] },
    {
      sql: `INSERT IGNORE INTO ${metaName(meta, 'shardArrivals')} (member_key, target_schema, target_table, seq, source_id, schema_name, table_name, binlog_coord, arrived_at)
       SELECT ?, target_schema, target_table, seq, ?, ?, ?, ?, NOW(3) FROM ${metaName(meta, 'shardLocks')} WHERE target_schema = ? AND target_table = ?`,
      values: [key, member.sourceId, member.schema, member.table, coord, target.schema, target.table],
    },
  ];
}

/**
 * How a shard's DDL finds its lock and when the lock runs. Pessimistic: the shard's n-th DDL is
 * lock n, run once every shard has reached it. Optimistic: the lock with the same statement the
 * shard has not reached yet (shards may run DDLs in another order), else a new one; a DDL that
 * only adds (`atOnce`) runs at the first arrival, the others when every shard has reached it.
 */
interface LockRule {
  match: 'order' | 'statement';
  atOnce: boolean;
}

/**
 * One shard's DDL reaching its lock, inside the transaction that holds the shard's checkpoint.
 * `run`: this shard runs the DDL (it completed the lock, or it did before a restart); `done`:
 * the DDL already ran (or an operator unlocked it); `wait`: other shards have not reached it.
 */
export async function reachShardLock(
  db: Queryable,
  meta: MetaTables,
  task: TaskConfig,
  member: TableSyncRef,
  target: TableRef,
  coord: string,
  ddl: string,
  rule: LockRule,
): Promise<ShardStep> {
  const me = memberLabel(member);
  const { seq, arrived: fresh } = await arrivalSeq(db, meta, member, target, coord, rule.match === 'statement' ? ddl : undefined);
  await db.query(
    `INSERT IGNORE INTO ${metaName(meta, 'shardLocks')} (target_schema, target_table, seq, ddl, state, created_at) VALUES (?, ?, ?, ?, 'waiting', NOW(3))`,
    [target.schema, target.table, seq, ddl],
  );
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT ddl, state, owner FROM ${metaName(meta, 'shardLocks')} WHERE target_schema = ? AND target_table = ? AND seq = ? FOR UPDATE`,
    [target.schema, target.table, seq],
  );
  const lock = rows[0]!;
  if (String(lock.ddl) !== ddl) {
    throw new DmqError(
      'SHARD_DDL_CONFLICT',
      `shard ${me} runs \`${ddl}\` as its DDL number ${seq} on ${tableLabel(target)}, where another shard ran \`${String(lock.ddl)}\``,
      {
        where: coord,
        dm: DM_ERRORS.inconsistentDdl,
        workaround: `run the same DDL on every shard; or \`dmq shard-ddl-lock unlock ${shardLockId(task.name, target)}\` to apply the first one and go on, or \`dmq binlog skip ${task.name} -b ${coord} -s ${member.sourceId}\` to drop this one`,
      },
    );
  }
  const state = String(lock.state) as ShardLockState;
  if (state === 'executed' || state === 'unlocked') return { action: 'done', seq };
  if (state === 'executing') return lock.owner === me ? { action: 'run', seq } : { action: 'wait', seq, missing: [], arrived: fresh };
  const { missing } = await lockProgress(db, meta, task, target, seq);
  if (missing.length > 0 && !rule.atOnce) return { action: 'wait', seq, missing, arrived: fresh };
  await db.query(
    `UPDATE ${metaName(meta, 'shardLocks')} SET state = 'executing', owner = ? WHERE target_schema = ? AND target_table = ? AND seq = ?`,
    [me, target.schema, target.table, seq],
  );
  return { action: 'run', seq };
}

/**
 * The shard's arrival at the DDL at `coord`: the same lock again on a retry; else its next one,
 * or, matching by `statement`, the oldest lock of that statement it has not reached, else a new one.
 */
async function arrivalSeq(
  db: Queryable,
  meta: MetaTables,
  member: TableSyncRef,
  target: TableRef,
  coord: string,
  statement: string | undefined,
): Promise<{ seq: number; arrived: boolean }> {
  const key = memberKey(target, member);
  const [rows] = await db.query<RowDataPacket[]>(`SELECT seq, binlog_coord FROM ${metaName(meta, 'shardArrivals')} WHERE member_key = ?`, [
    key,
  ]);
  const known = rows.find((r) => String(r.binlog_coord) === coord);
  if (known) return { seq: Number(known.seq), arrived: false };
  const reached = new Set(rows.map((r) => Number(r.seq)));
  let seq = rows.reduce((n, r) => Math.max(n, Number(r.seq)), 0) + 1;
  if (statement !== undefined) {
    const [locks] = await db.query<RowDataPacket[]>(
      `SELECT seq, ddl FROM ${metaName(meta, 'shardLocks')} WHERE target_schema = ? AND target_table = ? ORDER BY seq`,
      [target.schema, target.table],
    );
    const same = locks.find((l) => String(l.ddl) === statement && !reached.has(Number(l.seq)));
    seq = same ? Number(same.seq) : locks.reduce((n, l) => Math.max(n, Number(l.seq)), seq - 1) + 1;
  }
  await db.query(
    `INSERT INTO ${metaName(meta, 'shardArrivals')} (member_key, target_schema, target_table, seq, source_id, schema_name, table_name, binlog_coord, arrived_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOW(3))`,
    [key, target.schema, target.table, seq, member.sourceId, member.schema, member.table, coord],
  );
  return { seq, arrived: true };
}

/** The shards that have reached lock `seq` of `target`, and the current shards that have not. */
async function lockProgress(
  db: Queryable,
  meta: MetaTables,
  task: TaskConfig,
  target: TableRef,
  seq: number,
): Promise<{ arrived: string[]; missing: string[] }> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT source_id, schema_name, table_name FROM ${metaName(meta, 'shardArrivals')} WHERE target_schema = ? AND target_table = ? AND seq = ?`,
    [target.schema, target.table, seq],
  );
  const arrived = rows.map((r) =>
    memberLabel({ sourceId: String(r.source_id), schema: String(r.schema_name), table: String(r.table_name) }),
  );
  const missing = (await shardMembers(db, meta, task, target, { current: true })).map(memberLabel).filter((m) => !arrived.includes(m));
  return { arrived, missing };
}

export function resolveShardLockStatement(meta: MetaTables, target: TableRef, seq: number, state: 'executed' | 'unlocked'): SqlStatement {
  return {
    sql: `UPDATE ${metaName(meta, 'shardLocks')} SET state = ?, resolved_at = NOW(3) WHERE target_schema = ? AND target_table = ? AND seq = ?`,
    values: [state, target.schema, target.table, seq],
  };
}

/** Every lock not yet resolved, oldest first, with who has and has not reached it. */
export async function listShardLocks(db: Queryable, meta: MetaTables, task: TaskConfig): Promise<ShardLock[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT target_schema, target_table, seq, ddl, state, owner FROM ${metaName(meta, 'shardLocks')}
     WHERE state IN ('waiting', 'executing') ORDER BY target_schema, target_table, seq`,
  );
  const locks: ShardLock[] = [];
  for (const r of rows) {
    const target = { schema: String(r.target_schema), table: String(r.target_table) };
    const seq = Number(r.seq);
    const { arrived, missing } = await lockProgress(db, meta, task, target, seq);
    locks.push({
      id: shardLockId(task.name, target),
      target,
      seq,
      ddl: String(r.ddl),
      state: String(r.state) as ShardLockState,
      owner: r.owner === null ? null : String(r.owner),
      arrived,
      missing,
    });
  }
  return locks;
}
