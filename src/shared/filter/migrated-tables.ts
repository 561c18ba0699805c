import type { Connection } from 'mysql2/promise';
import type { InstanceConfig, TableRef, TaskConfig } from '../config/types.js';
import { listTables } from '../sql/catalog.js';
import { makeTableFilter, type TableFilter } from './block-allow.js';
import { onlineDdlRules, withoutOnlineDdlTables } from './online-ddl.js';

/** The tables an instance's block-allow list and mydumper -B/-T let through. */
export function instanceListFilter(task: TaskConfig, instance: InstanceConfig): TableFilter {
  return makeTableFilter(instance.blockAllowList, {
    caseSensitive: task.caseSensitive,
    onlyDbs: instance.mydumper.onlyDbs,
    onlyTables: instance.mydumper.onlyTables,
  });
}

/**
 * Which tables an instance migrates: block-allow list and mydumper -B/-T applied, and with
 * `online-ddl` without the shadow and trash tables of gh-ost/pt-osc.
 */
export function instanceTableFilter(task: TaskConfig, instance: InstanceConfig): TableFilter {
  return withoutOnlineDdlTables(instanceListFilter(task, instance), onlineDdlRules(task));
}

/** The source tables an instance migrates (see instanceTableFilter). */
export async function migratedTables(conn: Connection, task: TaskConfig, instance: InstanceConfig): Promise<TableRef[]> {
  const filter = instanceTableFilter(task, instance);
  return (await listTables(conn)).filter((t) => filter.table(t.schema, t.table));
}

/** What the filters were, for a message that explains why nothing matched. */
export function describeFilters(instance: InstanceConfig): string {
  const parts: string[] = [];
  const list = instance.blockAllowList;
  const tables = (rules: { dbName: string; tblName: string }[]) => rules.map((r) => `${r.dbName}.${r.tblName}`).join(', ');
  if (list?.doDbs.length) parts.push(`do-dbs: ${list.doDbs.join(', ')}`);
  if (list?.ignoreDbs.length) parts.push(`ignore-dbs: ${list.ignoreDbs.join(', ')}`);
  if (list?.doTables.length) parts.push(`do-tables: ${tables(list.doTables)}`);
  if (list?.ignoreTables.length) parts.push(`ignore-tables: ${tables(list.ignoreTables)}`);
  if (instance.mydumper.onlyDbs.length) parts.push(`mydumper -B: ${instance.mydumper.onlyDbs.join(', ')}`);
  if (instance.mydumper.onlyTables.length) parts.push(`mydumper -T: ${instance.mydumper.onlyTables.join(', ')}`);
  return parts.length === 0 ? 'no block-allow list or mydumper filter' : parts.join('; ');
}
