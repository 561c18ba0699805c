import type { InstanceConfig, TableRef } from '../../shared/config/types.js';
import { makeRouter } from '../../shared/filter/route.js';
import { quoteId, tableLabel } from '../../shared/sql/quote.js';
import type { ColumnFacts, TableFacts } from './tables.js';

export interface ShardMember {
  sourceId: string;
  table: TableFacts;
}

export interface ShardGroup {
  target: TableRef;
  members: ShardMember[];
}

export interface SourceTables {
  instance: InstanceConfig;
  tables: TableFacts[];
}

/** Target tables that more than one source table merges into, by the instances' route rules. */
export function shardGroups(sources: SourceTables[], caseSensitive: boolean): ShardGroup[] {
  const groups = new Map<string, ShardGroup>();
  for (const { instance, tables } of sources) {
    const route = makeRouter(instance.routes, caseSensitive);
    for (const table of tables) {
      const target = route(table.schema, table.table);
      // Without case-sensitive, `Db`.`T` and `db`.`t` are one table on the target (TiDB compares names that way).
      const key = caseSensitive ? `${target.schema}\u0000${target.table}` : `${target.schema}\u0000${target.table}`.toLowerCase();
      const group = groups.get(key) ?? { target, members: [] };
      group.members.push({ sourceId: instance.sourceId, table });
      groups.set(key, group);
    }
  }
  return [...groups.values()].filter((g) => g.members.length > 1);
}

export function memberLabel(member: ShardMember): string {
  return `${tableLabel(member.table)} on source ${JSON.stringify(member.sourceId)}`;
}

function columnText(c: ColumnFacts): string {
  return `${c.columnType}${c.nullable ? '' : ' not null'}`;
}

/** How `other`'s columns differ from `reference`'s; empty when they match. Column names are case-insensitive, as in MySQL. */
export function columnDifferences(reference: TableFacts, other: TableFacts): string[] {
  const byName = (t: TableFacts) => new Map(t.columns.map((c) => [c.name.toLowerCase(), c]));
  const ref = byName(reference);
  const oth = byName(other);
  const differences: string[] = [];
  for (const [name, c] of ref) {
    const o = oth.get(name);
    if (!o) differences.push(`column ${quoteId(c.name)} is missing`);
    else if (columnText(o) !== columnText(c)) differences.push(`column ${quoteId(c.name)} is ${columnText(o)}, not ${columnText(c)}`);
  }
  for (const [name, o] of oth) if (!ref.has(name)) differences.push(`extra column ${quoteId(o.name)}`);
  if (differences.length === 0) {
    const order = (t: TableFacts) => t.columns.map((c) => c.name.toLowerCase()).join(',');
    if (order(reference) !== order(other)) differences.push('the same columns in a different order');
  }
  return differences;
}
