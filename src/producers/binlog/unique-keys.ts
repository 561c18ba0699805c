import type { RowDataPacket } from 'mysql2/promise';
import type { TableRef } from '../../shared/config/types.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import type { Logger } from '../../shared/logger.js';
import type { Queryable } from '../../shared/sql/connect.js';

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys', 'metrics_schema'];

/** Every unique key of the server's tables (on the source without its primary key, which the binlog names). */
async function readUniqueKeys(db: Queryable, withPrimary: boolean): Promise<Map<string, string[][]>> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS
     WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA NOT IN (?)${withPrimary ? '' : " AND INDEX_NAME <> 'PRIMARY'"}
     ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
    [SYSTEM_SCHEMAS],
  );
  const byIndex = new Map<string, { table: string; columns: string[] }>();
  for (const r of rows) {
    const table = tableKey(String(r.s), String(r.t));
    const index = JSON.stringify([String(r.s), String(r.t), String(r.i)]);
    const entry = byIndex.get(index) ?? { table, columns: [] };
    entry.columns.push(String(r.c));
    byIndex.set(index, entry);
  }
  const keys = new Map<string, string[][]>();
  for (const { table, columns } of byIndex.values()) keys.set(table, [...(keys.get(table) ?? []), columns]);
  return keys;
}

/**
 * What the binlog reader knows of the unique keys of the tables it splits into lanes: the
 * source's (besides the primary key) and the routed target table's, since rows collide on the
 * target. Read when the reader connects; a table whose DDL the reader has read counts as
 * 'unknown' (every change joins) until they are read again, after the DDL, on the next tick:
 * the source has run it by then, and a DDL that drops a key on the target has not run there
 * before the changes ahead of it have applied.
 */
export function createUniqueKeys(
  source: () => Queryable,
  target: () => Queryable,
  route: (schema: string, table: string) => TableRef,
  log: Logger,
) {
  let sourceKeys: Map<string, string[][]> | undefined;
  let targetKeys = new Map<string, string[][]>();
  const stale = new Set<string>();

  async function read(): Promise<boolean> {
    try {
      const [fromSource, fromTarget] = await Promise.all([readUniqueKeys(source(), false), readUniqueKeys(target(), true)]);
      sourceKeys = fromSource;
      targetKeys = fromTarget;
      return true;
    } catch (err) {
      log.warn({ err }, 'cannot read the unique keys of the tables: every change of a table with lanes joins until they are read');
      return false;
    }
  }

  return {
    /** Reads them all (when the reader connects). */
    async load(): Promise<void> {
      stale.clear();
      sourceKeys = undefined;
      await read();
    },
    /** Reads them again if a DDL made some unknown, or they could not be read. */
    async refresh(): Promise<void> {
      if (sourceKeys && stale.size === 0) return;
      const changed = [...stale];
      if (await read()) for (const key of changed) stale.delete(key);
    },
    of: (schema: string, table: string): string[][] | 'unknown' => {
      const key = tableKey(schema, table);
      if (!sourceKeys || stale.has(key)) return 'unknown';
      const routed = route(schema, table);
      return [...(sourceKeys.get(key) ?? []), ...(targetKeys.get(tableKey(routed.schema, routed.table)) ?? [])];
    },
    changed: (schema: string, table: string): void => {
      stale.add(tableKey(schema, table));
    },
  };
}
