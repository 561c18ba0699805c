import { coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { ensureMetaTables } from '../../shared/checkpoint/meta-schema.js';
import {
  deleteSchemaVersions,
  readSchemaVersions,
  recordSchemaVersions,
  SCHEMA_ORIGIN,
  type SchemaVersion,
} from '../../shared/checkpoint/schema-checkpoint.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import type { InstanceConfig, TaskConfig } from '../../shared/config/types.js';
import { readDdl } from '../../shared/ddl/read-ddl.js';
import { DmqError } from '../../shared/errors.js';
import { definitionOfStatement } from '../../shared/schema/track-ddl.js';
import { createTableSql, readTrackedTables, type TrackedTable } from '../../shared/schema/tracked-table.js';
import { requireSource, taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { startPosition } from './start-position.js';

/**
 * `dmq binlog-schema list|update|delete` (dmctl's): what the schema tracker of a task's source
 * holds, and the operator's fix when it is wrong. Changes apply where the source's reader resumes,
 * so the task must be paused.
 */

async function instanceOf(ctx: ServiceContext, name: string, sourceId: string): Promise<{ task: TaskConfig; instance: InstanceConfig }> {
  const task = await ctx.registry.requireTask(name);
  const instance = task.instances.find((i) => i.sourceId === sourceId);
  if (!instance) {
    throw new DmqError('SOURCE_NOT_FOUND', `task "${name}" has no source "${sourceId}"`, {
      where: 'source',
      workaround: `use one of: ${task.instances.map((i) => i.sourceId).join(', ')}`,
    });
  }
  await ensureMetaTables(ctx.pools.target(task), taskMeta(task));
  return { task, instance };
}

/** The newest definition of each table the tracker holds (tables dropped last left out). */
async function newest(ctx: ServiceContext, task: TaskConfig, sourceId: string): Promise<Map<string, SchemaVersion>> {
  const latest = new Map<string, SchemaVersion>();
  for (const v of await readSchemaVersions(ctx.pools.target(task), taskMeta(task), sourceId)) latest.set(tableKey(v.schema, v.table), v);
  for (const [key, v] of latest) if (v.definition === null) latest.delete(key);
  return latest;
}

/** The schemas with tracked tables. */
export async function trackedSchemas(ctx: ServiceContext, name: string, sourceId: string): Promise<string[]> {
  const { task } = await instanceOf(ctx, name, sourceId);
  return [...new Set([...(await newest(ctx, task, sourceId)).values()].map((v) => v.schema))].sort();
}

/** The tracked tables of a schema. */
export async function trackedTables(ctx: ServiceContext, name: string, sourceId: string, schema: string): Promise<string[]> {
  const { task } = await instanceOf(ctx, name, sourceId);
  return [...(await newest(ctx, task, sourceId)).values()]
    .filter((v) => v.schema === schema)
    .map((v) => v.table)
    .sort();
}

const notTracked = (name: string, sourceId: string, schema: string, table: string) =>
  new DmqError(
    'SCHEMA_NOT_TRACKED',
    `the schema tracker of task "${name}" has no definition of \`${schema}\`.\`${table}\` of source "${sourceId}"`,
    {
      where: `${schema}.${table}`,
      workaround: `\`dmq binlog-schema list ${name} ${sourceId}\` lists the tracked tables; \`dmq binlog-schema update ${name} ${sourceId} ${schema} ${table} --from-source\` tracks it`,
    },
  );

/** `binlog-schema list <task> <source> <schema> <table>`: the table's newest definition, as CREATE TABLE. */
export async function trackedTable(ctx: ServiceContext, name: string, sourceId: string, schema: string, table: string) {
  const { task } = await instanceOf(ctx, name, sourceId);
  const version = (await newest(ctx, task, sourceId)).get(tableKey(schema, table));
  if (!version) throw notTracked(name, sourceId, schema, table);
  return {
    schema_name: schema,
    table_name: table,
    schema_create_sql: createTableSql(schema, table, version.definition!),
    valid_from: coordText(version.validFrom),
  };
}

/** Where the source's reader resumes, which only a paused task keeps still. */
async function resumePoint(ctx: ServiceContext, task: TaskConfig, instance: InstanceConfig, verb: string): Promise<BinlogCoord> {
  const stage = (await ctx.registry.getState(task.name))?.stage;
  if (stage !== 'Paused') {
    throw new DmqError(
      'CONFIG_INVALID',
      `task "${task.name}" is ${stage ?? 'not started'}: binlog-schema ${verb} changes a paused task only`,
      {
        where: 'task',
        workaround: `\`dmq pause-task ${task.name}\`, then binlog-schema ${verb}, then \`dmq resume-task ${task.name}\``,
      },
    );
  }
  return (await startPosition(ctx, task, instance))?.coord ?? SCHEMA_ORIGIN;
}

/** Makes `definition` (null: untracked) the table's definition from the resume point on. */
async function replaceFrom(
  ctx: ServiceContext,
  task: TaskConfig,
  sourceId: string,
  at: BinlogCoord,
  version: Omit<SchemaVersion, 'validFrom'>,
) {
  const pool = ctx.pools.target(task);
  const meta = taskMeta(task);
  // Versions ahead were derived from the wrong one; the reader records them again as it passes their DDL.
  await deleteSchemaVersions(pool, meta, sourceId, version.schema, version.table, at);
  await recordSchemaVersions(pool, meta, sourceId, [{ ...version, validFrom: at }]);
}

/**
 * `binlog-schema update`: the table's definition from a CREATE TABLE statement, or as the source
 * has it now (`fromSource`), valid from where the reader resumes.
 */
export async function updateTrackedTable(
  ctx: ServiceContext,
  name: string,
  sourceId: string,
  ref: { schema: string; table: string },
  given: { sql?: string | undefined; fromSource?: boolean | undefined },
): Promise<{ valid_from: string }> {
  const { task, instance } = await instanceOf(ctx, name, sourceId);
  if ((given.sql === undefined) === (given.fromSource !== true)) {
    throw new DmqError('CONFIG_INVALID', 'binlog-schema update takes either a CREATE TABLE statement or from_source: true', {
      where: 'sql_content',
      workaround: `dmq binlog-schema update ${name} ${sourceId} ${ref.schema} ${ref.table} <file with CREATE TABLE>, or --from-source`,
    });
  }
  const at = await resumePoint(ctx, task, instance, 'update');
  let definition: TrackedTable | string;
  if (given.sql !== undefined) {
    const reading = readDdl(given.sql, ref.schema);
    definition =
      reading.type === 'ddl' && reading.statements.length === 1
        ? definitionOfStatement(reading.statements[0]!)
        : reading.type === 'ddl'
          ? 'it holds several statements'
          : reading.reason;
  } else {
    const source = ctx.pools.source(task, await requireSource(ctx, task, sourceId));
    const conn = await source.getConnection();
    try {
      const [found] = await readTrackedTables(conn, [ref]);
      definition = found?.definition ?? `source "${sourceId}" has no table \`${ref.schema}\`.\`${ref.table}\``;
    } finally {
      conn.release();
    }
  }
  if (typeof definition === 'string') {
    throw new DmqError('CONFIG_INVALID', `binlog-schema update of \`${ref.schema}\`.\`${ref.table}\`: ${definition}`, {
      where: given.sql === undefined ? 'from_source' : 'sql_content',
      workaround: 'give one CREATE TABLE statement with the columns as the binlog logs them (SHOW CREATE TABLE prints one)',
    });
  }
  await replaceFrom(ctx, task, sourceId, at, { ...ref, definition });
  return { valid_from: coordText(at) };
}

/** `binlog-schema delete`: the table is untracked from where the reader resumes. */
export async function deleteTrackedTable(ctx: ServiceContext, name: string, sourceId: string, ref: { schema: string; table: string }) {
  const { task, instance } = await instanceOf(ctx, name, sourceId);
  if (!(await newest(ctx, task, sourceId)).has(tableKey(ref.schema, ref.table))) throw notTracked(name, sourceId, ref.schema, ref.table);
  const at = await resumePoint(ctx, task, instance, 'delete');
  await replaceFrom(ctx, task, sourceId, at, { ...ref, definition: null });
}
