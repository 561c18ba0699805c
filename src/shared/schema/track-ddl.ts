import type { TableRef } from '../config/types.js';
import type { DdlStatement } from '../ddl/read-ddl.js';
import { isNode, nameOf, type Node } from '../ddl/sql-ast.js';
import { isTextType, type TrackedColumn, type TrackedTable } from './tracked-table.js';

/**
 * What a replicated DDL does to the tracked definitions of source tables (DM's schema tracker):
 * the tables it creates, changes or drops. Pure: the reader applies the changes and persists them.
 *
 * The first definition of a table is read from the source a little after the position it is
 * tracked from (dmq takes no global lock), so a DDL in between may be met again: adding a column
 * that exists or dropping one that does not changes nothing, as the copy's own DDL replay does.
 */

/** The definitions the tracker holds before the DDL. */
export interface SchemaView {
  get(schema: string, table: string): TrackedTable | undefined;
  /** The tracked tables of a schema (for DROP DATABASE). */
  tablesOf(schema: string): string[];
}

/** One table's definition after a DDL; null: the table is gone. */
export interface SchemaChange extends TableRef {
  definition: TrackedTable | null;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function columnName(value: unknown): string | undefined {
  if (typeof value === 'string') return nameOf(value);
  if (isNode(value) && typeof value.column === 'string') return nameOf(value.column);
  if (isNode(value) && isNode(value.expr) && typeof value.expr.value === 'string') return nameOf(value.expr.value);
  return undefined;
}

/** COLUMN_TYPE as information_schema writes it, from the parser's `definition`. */
function columnType(definition: Node): string {
  const base = String(definition.dataType).toLowerCase();
  let args = '';
  if (isNode(definition.expr) && Array.isArray(definition.expr.value)) {
    args = `(${(definition.expr.value as Node[]).map((v) => `'${String(v.value)}'`).join(',')})`;
  } else if (typeof definition.length === 'number') {
    args = typeof definition.scale === 'number' ? `(${definition.length},${definition.scale})` : `(${definition.length})`;
  }
  const suffix = Array.isArray(definition.suffix)
    ? (definition.suffix as unknown[]).filter((s) => s === 'UNSIGNED' || s === 'ZEROFILL').map((s) => ` ${String(s).toLowerCase()}`)
    : [];
  return `${base === 'integer' ? 'int' : base}${args}${suffix.join('')}`;
}

function charsetValue(node: unknown): string | undefined {
  return isNode(node) && isNode(node.value) && typeof node.value.value === 'string' ? node.value.value.toLowerCase() : undefined;
}

/** A column as a CREATE TABLE or ALTER TABLE clause defines it. */
function columnOf(clause: Node, tableCharset: string): TrackedColumn | undefined {
  const name = columnName(clause.column);
  if (name === undefined || !isNode(clause.definition)) return undefined;
  const type = columnType(clause.definition);
  const text = isTextType(type);
  const charset = charsetValue(clause.character_set);
  const collate = isNode(clause.collate) && isNode(clause.collate.collate) ? clause.collate.collate.name : undefined;
  return {
    name,
    type,
    charset: text ? (charset ?? (typeof collate === 'string' ? collate.split('_')[0]!.toLowerCase() : tableCharset)) : null,
    collation: text && typeof collate === 'string' ? collate.toLowerCase() : null,
  };
}

const keyColumns = (definition: unknown) =>
  Array.isArray(definition) ? definition.map(columnName).filter((c): c is string => c !== undefined) : [];

/** The table a CREATE TABLE statement defines. */
export function definitionOfCreate(tree: Node): TrackedTable | string {
  const options = Array.isArray(tree.table_options) ? (tree.table_options as Node[]) : [];
  const charsetOption = options.find((o) => /charset|character set/i.test(String(o.keyword)));
  const charset = charsetValue(charsetOption) ?? 'utf8mb4';
  const definitions = Array.isArray(tree.create_definitions) ? (tree.create_definitions as Node[]) : [];
  const columns: TrackedColumn[] = [];
  let primaryKey: string[] = [];
  for (const clause of definitions) {
    if (clause.resource === 'column') {
      const column = columnOf(clause, charset);
      if (!column) return 'a column definition the schema tracker cannot read';
      columns.push(column);
      if (clause.primary_key) primaryKey = [column.name];
    } else if (clause.constraint_type === 'primary key') primaryKey = keyColumns(clause.definition);
  }
  if (columns.length === 0) return 'no columns';
  return { columns, primaryKey, charset };
}

/** Where FIRST / AFTER col puts a column, or undefined when the clause does not move it. */
function placeOf(clause: Node, columns: TrackedColumn[]): number | undefined {
  const suffix = isNode(clause.suffix) ? clause.suffix : undefined;
  const keyword = String(suffix?.keyword ?? '').toUpperCase();
  if (keyword === 'FIRST') return 0;
  if (keyword !== 'AFTER') return undefined;
  const after = columnName(suffix?.expr);
  const index = columns.findIndex((c) => after !== undefined && sameName(c.name, after));
  return index < 0 ? undefined : index + 1;
}

function renameInKey(table: TrackedTable, from: string, to: string): void {
  table.primaryKey = table.primaryKey.map((c) => (sameName(c, from) ? to : c));
}

/** One ALTER TABLE clause applied to `table` in place; a reason when the tracker cannot follow it. */
function alterClause(table: TrackedTable, clause: Node): string | undefined {
  const what = `${String(clause.action ?? '')} ${String(clause.resource ?? '')}`.trim();
  const at = (name: string | undefined) => table.columns.findIndex((c) => name !== undefined && sameName(c.name, name));
  switch (what) {
    case 'add column': {
      const column = columnOf(clause, table.charset);
      if (!column) return 'an added column the schema tracker cannot read';
      if (at(column.name) >= 0) return undefined;
      table.columns.splice(placeOf(clause, table.columns) ?? table.columns.length, 0, column);
      return undefined;
    }
    case 'drop column': {
      const name = columnName(clause.column);
      const index = at(name);
      if (index >= 0) table.columns.splice(index, 1);
      table.primaryKey = table.primaryKey.filter((c) => name === undefined || !sameName(c, name));
      return undefined;
    }
    case 'modify column':
    case 'change column': {
      const old = columnName(what === 'change column' ? clause.old_column : clause.column);
      const index = at(old);
      const column = columnOf(clause, table.charset);
      if (index < 0 || !column) return `column ${old ?? '?'} is not in the tracked definition`;
      table.columns.splice(index, 1);
      table.columns.splice(placeOf(clause, table.columns) ?? index, 0, column);
      renameInKey(table, old!, column.name);
      return undefined;
    }
    case 'rename column': {
      const from = columnName(clause.old_column);
      const to = columnName(clause.column);
      const index = at(from);
      if (index < 0 || to === undefined) return `column ${from ?? '?'} is not in the tracked definition`;
      table.columns[index] = { ...table.columns[index]!, name: to };
      renameInKey(table, from!, to);
      return undefined;
    }
    case 'add constraint':
      if (isNode(clause.create_definitions) && clause.create_definitions.constraint_type === 'primary key')
        table.primaryKey = keyColumns(clause.create_definitions.definition);
      return undefined;
    case 'drop key':
      if (clause.keyword === 'primary key') table.primaryKey = [];
      return undefined;
    case 'default charset':
    case 'charset':
    case 'character set':
      table.charset = charsetValue(clause[what]) ?? table.charset;
      return undefined;
    default:
      // indexes, defaults, comments, engine and other table options: the rows' shape stays
      return undefined;
  }
}

/**
 * The definitions `ddl` changes; `tracks` says which source tables the task migrates. A reason
 * when the statement changes a tracked table in a way the tracker cannot follow.
 */
export function trackDdl(view: SchemaView, ddl: DdlStatement, tracks: (schema: string, table: string) => boolean): SchemaChange[] | string {
  const [first, second] = ddl.tables;
  if (!first) return [];
  const tree = ddl.tree;
  switch (ddl.kind) {
    case 'create table': {
      if (!tracks(first.schema, first.table)) return [];
      if (second) {
        const like = view.get(second.schema, second.table);
        if (!like) return `CREATE TABLE ... LIKE \`${second.schema}\`.\`${second.table}\`, whose definition is not tracked`;
        return [{ ...first, definition: structuredClone(like) }];
      }
      const created = tree ? definitionOfCreate(tree) : 'the statement was not read by the parser';
      return typeof created === 'string' ? created : [{ ...first, definition: created }];
    }
    case 'drop table':
      return view.get(first.schema, first.table) ? [{ ...first, definition: null }] : [];
    case 'rename table': {
      const moved = view.get(first.schema, first.table);
      const changes: SchemaChange[] = moved ? [{ ...first, definition: null }] : [];
      if (second && tracks(second.schema, second.table)) {
        if (!moved) return `RENAME TABLE from \`${first.schema}\`.\`${first.table}\`, whose definition is not tracked`;
        changes.push({ ...second, definition: moved });
      }
      return changes;
    }
    case 'alter table': {
      const before = view.get(first.schema, first.table);
      if (!before || !tree) return [];
      const after = structuredClone(before);
      const clauses = Array.isArray(tree.expr) ? (tree.expr as unknown[]).filter(isNode) : [];
      for (const clause of clauses) {
        const reason = alterClause(after, clause);
        if (reason !== undefined) return reason;
      }
      return [{ ...first, definition: after }];
    }
    case 'drop database':
      return view.tablesOf(first.schema).map((table) => ({ schema: first.schema, table, definition: null }));
    default:
      // TRUNCATE, indexes and database options leave every row's shape as it was
      return [];
  }
}

/** The definition a CREATE TABLE statement gives `binlog-schema update`; a reason when it gives none. */
export function definitionOfStatement(ddl: DdlStatement): TrackedTable | string {
  if (ddl.kind !== 'create table' || ddl.tables.length !== 1 || !ddl.tree) return 'it is not a CREATE TABLE statement with its columns';
  return definitionOfCreate(ddl.tree);
}
