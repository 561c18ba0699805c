import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../binlog/position.js';
import type { Queryable } from '../sql/connect.js';
import type { TrackedTable } from '../schema/tracked-table.js';
import { metaName, type MetaTables } from './meta-schema.js';
import { tableKey } from './sync-checkpoint.js';

/**
 * The schema tracker's definitions, kept on the target beside the checkpoints. Each table has one
 * row per position its definition changed at, so a reader resuming at an older position decodes
 * with the columns valid there, not the newest: a restart reads again from the checkpoint, past
 * the same DDL, and the DDL brings the newer definition back.
 */

/** One version of a table's definition: valid from `validFrom` until the table's next version. */
export interface SchemaVersion {
  schema: string;
  table: string;
  validFrom: BinlogCoord;
  /** null: the table was dropped (or renamed away) there. */
  definition: TrackedTable | null;
}

/** Where a tracker starts before any binlog position is known: before every position. */
export const SCHEMA_ORIGIN: BinlogCoord = { file: '', pos: 0 };

const versionKey = (sourceId: string, v: { schema: string; table: string; validFrom: BinlogCoord }) =>
  createHash('sha1')
    .update(JSON.stringify([sourceId, v.schema, v.table, coordText(v.validFrom)]))
    .digest('hex');

/** Records versions (again: the same table and position overwrite). */
export async function recordSchemaVersions(conn: Queryable, meta: MetaTables, sourceId: string, versions: SchemaVersion[]): Promise<void> {
  if (versions.length === 0) return;
  await conn.query(
    `REPLACE INTO ${metaName(meta, 'schemaTracker')} (version_key, source_id, schema_name, table_name, valid_from, definition, updated_at) VALUES ?`,
    [
      versions.map((v) => [
        versionKey(sourceId, v),
        sourceId,
        v.schema,
        v.table,
        coordText(v.validFrom),
        v.definition === null ? null : JSON.stringify(v.definition),
        new Date(),
      ]),
    ],
  );
}

/** Every version of the source's tables, oldest first per table. */
export async function readSchemaVersions(conn: Queryable, meta: MetaTables, sourceId: string): Promise<SchemaVersion[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT schema_name, table_name, valid_from, definition FROM ${metaName(meta, 'schemaTracker')} WHERE source_id = ?`,
    [sourceId],
  );
  return rows
    .map((r) => ({
      schema: String(r.schema_name),
      table: String(r.table_name),
      validFrom: parseCoordText(String(r.valid_from)),
      definition: r.definition === null ? null : (JSON.parse(String(r.definition)) as TrackedTable),
    }))
    .sort((a, b) => compareCoords(a.validFrom, b.validFrom));
}

/** Each table's version valid at `at` (its latest from at or before it); dropped tables left out. */
export function versionsAt(versions: SchemaVersion[], at: BinlogCoord): Map<string, SchemaVersion> {
  const current = new Map<string, SchemaVersion>();
  for (const v of versions) if (compareCoords(v.validFrom, at) <= 0) current.set(tableKey(v.schema, v.table), v);
  for (const [key, v] of current) if (v.definition === null) current.delete(key);
  return current;
}

/**
 * Deletes what no reader can need any more: versions older than the one valid at `at`, the
 * position every reader of the source starts at or after.
 */
export async function pruneSchemaVersions(conn: Queryable, meta: MetaTables, sourceId: string, at: BinlogCoord): Promise<void> {
  const versions = await readSchemaVersions(conn, meta, sourceId);
  const latest = new Map<string, SchemaVersion>();
  const old: SchemaVersion[] = [];
  for (const v of versions) {
    if (compareCoords(v.validFrom, at) > 0) continue;
    const key = tableKey(v.schema, v.table);
    const before = latest.get(key);
    if (before) old.push(before);
    latest.set(key, v);
  }
  if (old.length === 0) return;
  await conn.query(`DELETE FROM ${metaName(meta, 'schemaTracker')} WHERE version_key IN (?)`, [old.map((v) => versionKey(sourceId, v))]);
}

/** Deletes a table's versions, all of them or those from `from` on. */
export async function deleteSchemaVersions(
  conn: Queryable,
  meta: MetaTables,
  sourceId: string,
  schema: string,
  table: string,
  from?: BinlogCoord,
): Promise<number> {
  const doomed = (await readSchemaVersions(conn, meta, sourceId)).filter(
    (v) => v.schema === schema && v.table === table && (from === undefined || compareCoords(v.validFrom, from) >= 0),
  );
  if (doomed.length === 0) return 0;
  await conn.query(`DELETE FROM ${metaName(meta, 'schemaTracker')} WHERE version_key IN (?)`, [doomed.map((v) => versionKey(sourceId, v))]);
  return doomed.length;
}
