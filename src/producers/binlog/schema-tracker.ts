import type { Pool } from 'mysql2/promise';
import { coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import {
  pruneSchemaVersions,
  readSchemaVersions,
  recordSchemaVersions,
  SCHEMA_ORIGIN,
  versionsAt,
} from '../../shared/checkpoint/schema-checkpoint.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import type { InstanceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import type { DdlStatement } from '../../shared/ddl/read-ddl.js';
import type { TableFilter } from '../../shared/filter/block-allow.js';
import { migratedTables } from '../../shared/filter/migrated-tables.js';
import type { Logger } from '../../shared/logger.js';
import { trackDdl } from '../../shared/schema/track-ddl.js';
import { readTrackedTables, type TrackedTable } from '../../shared/schema/tracked-table.js';

/**
 * The binlog describes a migrated table by column types alone and the tracked definition does
 * not fit them: the task pauses until the operator sets the definition the rows were logged with.
 */
export function untrackedTable(task: string, sourceId: string, ref: TableRef, reason: string, at?: string): DmqError {
  const label = `\`${ref.schema}\`.\`${ref.table}\``;
  const verb = `dmq binlog-schema update ${task} ${sourceId} ${ref.schema} ${ref.table}`;
  return new DmqError(
    'BINLOG_SCHEMA',
    `the binlog of source "${sourceId}" carries no column names for ${label}${at === undefined ? '' : ` at ${at}`}, and dmq cannot decode its rows: ${reason}`,
    {
      where: at ?? label,
      workaround: `\`${verb} <file with its CREATE TABLE as it was at that position>\` (or \`${verb} --from-source\` if it has not changed since), then \`dmq resume-task ${task}\`; or SET GLOBAL binlog_row_metadata = FULL on the source for the binlog written from then on`,
    },
  );
}

export interface SchemaTrackerOptions {
  sourceId: string;
  task: TaskConfig;
  instance: InstanceConfig;
  meta: MetaTables;
  filter: TableFilter;
  target: () => Pool;
  source: () => Pool;
  log: Logger;
}

/**
 * One binlog reader's schema tracker (DM's): the definition of each migrated source table at the
 * position the reader has read to. It decodes rows when the binlog carries no column names
 * (binlog_row_metadata=MINIMAL, MySQL 5.7), and follows every DDL the reader passes, recording
 * each change on the target at the DDL's position before the checkpoint can pass it.
 */
export function createSchemaTracker(options: SchemaTrackerOptions) {
  const { sourceId, meta, log } = options;
  let tables = new Map<string, TrackedTable>();
  /** Recordings in flight, in binlog order; the checkpoint waits for them. */
  let recorded: Promise<void> = Promise.resolve();

  /** The current definitions of the migrated tables on the source, recorded valid from `at`. */
  async function snapshot(at: BinlogCoord): Promise<void> {
    const conn = await options.source().getConnection();
    let found: Awaited<ReturnType<typeof readTrackedTables>>;
    try {
      found = await readTrackedTables(conn, await migratedTables(conn, options.task, options.instance));
    } finally {
      conn.release();
    }
    await recordSchemaVersions(
      options.target(),
      meta,
      sourceId,
      found.map((d) => ({ ...d, validFrom: at })),
    );
    log.info({ tables: found.length, from: coordText(at) }, 'schema tracker: table definitions read from the source');
  }

  const view = {
    get: (schema: string, table: string) => tables.get(tableKey(schema, table)),
    tablesOf: (schema: string) =>
      [...tables.keys()]
        .map((key) => JSON.parse(key) as [string, string])
        .filter(([s]) => s === schema)
        .map(([, t]) => t),
  };

  return {
    /**
     * The definitions valid at `start`, where the reader resumes; a source with none recorded yet
     * (an incremental task) has its tables read now. Versions no reader needs any more go.
     */
    async load(start: BinlogCoord | undefined): Promise<void> {
      const at = start ?? SCHEMA_ORIGIN;
      let versions = await readSchemaVersions(options.target(), meta, sourceId);
      if (versions.length === 0) {
        await snapshot(SCHEMA_ORIGIN);
        versions = await readSchemaVersions(options.target(), meta, sourceId);
      }
      tables = new Map([...versionsAt(versions, at)].map(([key, v]) => [key, v.definition!]));
      recorded = Promise.resolve();
      await pruneSchemaVersions(options.target(), meta, sourceId, at);
    },
    get: view.get,
    /**
     * A DDL read at `coord`: the tracked definitions it changes, recorded at `coord`. A table it
     * changes in a way the tracker cannot follow becomes untracked there (`unfollowed` says why).
     */
    apply(ddl: DdlStatement, coord: BinlogCoord, fail: (err: unknown) => void): { changed: boolean; unfollowed?: string } {
      const tracked = trackDdl(view, ddl, options.filter.table);
      const [first] = ddl.tables;
      const unfollowed = typeof tracked === 'string' ? tracked : undefined;
      const changes =
        typeof tracked !== 'string' ? tracked : first && view.get(first.schema, first.table) ? [{ ...first, definition: null }] : [];
      if (changes.length === 0) return { changed: false, unfollowed };
      for (const c of changes) {
        if (c.definition === null) tables.delete(tableKey(c.schema, c.table));
        else tables.set(tableKey(c.schema, c.table), c.definition);
      }
      // Every piece of one statement at the event's own position: the checkpoint after the
      // event is that position, and a resume there must find all of them.
      const at = { file: coord.file, pos: coord.pos };
      const versions = changes.map((c) => ({ ...c, validFrom: at }));
      // A failed recording stays failed until the reader restarts: the checkpoint must not pass it.
      const next = recorded.then(() => recordSchemaVersions(options.target(), meta, sourceId, versions));
      next.catch(fail);
      recorded = next;
      log.info({ at: coordText(at), tables: changes.map((c) => `${c.schema}.${c.table}`) }, 'schema tracker: definitions changed');
      return { changed: true, unfollowed };
    },
    /** Resolves once every change read so far is recorded on the target; rejects if one could not be. */
    flushed: (): Promise<void> => recorded,
  };
}

export type SchemaTracker = ReturnType<typeof createSchemaTracker>;
