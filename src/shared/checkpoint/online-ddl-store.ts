import type { RowDataPacket } from 'mysql2/promise';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../binlog/position.js';
import type { TableRef } from '../config/types.js';
import type { Queryable } from '../sql/connect.js';
import { metaName, type MetaTables } from './meta-schema.js';

/**
 * What the binlog said about the shadow tables of gh-ost/pt-osc runs, kept in the meta schema
 * (`<task>_onlineddl`, DM's name): each ALTER run on a shadow table, and each point where a shadow
 * table's ALTERs stop counting (it was created, dropped or swapped in). A reader that restarts
 * from its checkpoint between an ALTER and the swap finds the ALTER here; what lies after the
 * checkpoint it reads again. Rows are keyed by their binlog coordinate, so reading an event twice
 * records it once.
 */
export type OnlineDdlRecord = { coord: BinlogCoord; shadow: TableRef } & ({ kind: 'ddl'; sql: string } | { kind: 'reset' });

/** The ALTERs of each shadow table still waiting for their swap, by tableKey-like label, in binlog order. */
export type PendingAlters = Map<string, { shadow: TableRef; sqls: { coord: BinlogCoord; sql: string }[] }>;

export const shadowKey = (ref: TableRef) => JSON.stringify([ref.schema, ref.table]);

/** Applies records, in binlog order, to what waits for a swap. */
export function replayRecords(pending: PendingAlters, records: OnlineDdlRecord[]): void {
  for (const record of records) {
    const key = shadowKey(record.shadow);
    if (record.kind === 'reset') {
      pending.delete(key);
      continue;
    }
    const entry = pending.get(key) ?? { shadow: record.shadow, sqls: [] };
    entry.sqls.push({ coord: record.coord, sql: record.sql });
    pending.set(key, entry);
  }
}

/** Whether the event at `coord` lies at or before `start`: a reader starting there does not read it again. */
const readBefore = (coord: BinlogCoord, start: BinlogCoord) => compareCoords({ file: coord.file, pos: coord.pos }, start) <= 0;

/**
 * What a reader starting at `start` knows from earlier runs. Records after `start` are deleted:
 * that reader reads their events again and records what it reads now (an operator's `binlog
 * replace` there may have changed it). No start (a first run from a GTID): nothing is known yet.
 */
export async function loadOnlineDdl(
  db: Queryable,
  meta: MetaTables,
  sourceId: string,
  start: BinlogCoord | undefined,
): Promise<PendingAlters> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT binlog_coord, shadow_schema, shadow_table, kind, ddl FROM ${metaName(meta, 'onlineDdl')} WHERE source_id = ?`,
    [sourceId],
  );
  const records: OnlineDdlRecord[] = rows.map((r) => {
    const base = {
      coord: parseCoordText(String(r.binlog_coord)),
      shadow: { schema: String(r.shadow_schema), table: String(r.shadow_table) },
    };
    return r.kind === 'reset' ? { ...base, kind: 'reset' } : { ...base, kind: 'ddl', sql: String(r.ddl) };
  });
  const known = records.filter((r) => start !== undefined && readBefore(r.coord, start));
  const again = records.filter((r) => !known.includes(r));
  for (const record of again) {
    await db.query(`DELETE FROM ${metaName(meta, 'onlineDdl')} WHERE source_id = ? AND binlog_coord = ?`, [
      sourceId,
      coordText(record.coord),
    ]);
  }
  const pending: PendingAlters = new Map();
  replayRecords(
    pending,
    known.sort((a, b) => compareCoords(a.coord, b.coord)),
  );
  return pending;
}

/** Writes records (again: the last reading of a coordinate wins). */
export async function saveOnlineDdl(db: Queryable, meta: MetaTables, sourceId: string, records: OnlineDdlRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db.query(
    `INSERT INTO ${metaName(meta, 'onlineDdl')} (source_id, binlog_coord, shadow_schema, shadow_table, kind, ddl, recorded_at) VALUES ?
     ON DUPLICATE KEY UPDATE shadow_schema = VALUES(shadow_schema), shadow_table = VALUES(shadow_table), kind = VALUES(kind),
       ddl = VALUES(ddl), recorded_at = VALUES(recorded_at)`,
    [
      records.map((r) => [
        sourceId,
        coordText(r.coord),
        r.shadow.schema,
        r.shadow.table,
        r.kind,
        r.kind === 'ddl' ? r.sql : null,
        new Date(),
      ]),
    ],
  );
}

/**
 * Drops the records of a shadow table up to its last reset at or before `upTo` (the global
 * checkpoint): no reader starts before them any more, and they count for nothing after it.
 */
export async function pruneOnlineDdl(
  db: Queryable,
  meta: MetaTables,
  sourceId: string,
  shadow: TableRef,
  upTo: BinlogCoord,
): Promise<void> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT binlog_coord, kind FROM ${metaName(meta, 'onlineDdl')} WHERE source_id = ? AND shadow_schema = ? AND shadow_table = ?`,
    [sourceId, shadow.schema, shadow.table],
  );
  const coords = rows.map((r) => ({ coord: parseCoordText(String(r.binlog_coord)), reset: r.kind === 'reset' }));
  const resets = coords.filter((c) => c.reset && readBefore(c.coord, upTo)).map((c) => c.coord);
  const last = resets.sort(compareCoords).at(-1);
  if (!last) return;
  const stale = coords.filter((c) => compareCoords(c.coord, last) <= 0).map((c) => coordText(c.coord));
  await db.query(`DELETE FROM ${metaName(meta, 'onlineDdl')} WHERE source_id = ? AND binlog_coord IN (?)`, [sourceId, stale]);
}
