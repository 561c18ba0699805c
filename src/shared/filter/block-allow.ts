import type { BlockAllowList, NamePattern } from '../config/types.js';
import { SYSTEM_SCHEMAS } from '../sql/catalog.js';
import { compilePattern, type NameMatcher } from './pattern.js';

/** Never migrated, whatever the lists say (DM does the same). Compared lower-cased. */
const SYSTEM = new Set<string>(SYSTEM_SCHEMAS);

export interface TableFilterOptions {
  caseSensitive: boolean;
  /** mydumper `-B` from extra-args: only these schemas (empty or absent: no narrowing). */
  onlyDbs?: string[];
  /** mydumper `-T` from extra-args: `t` (in any allowed schema) or `db.t` (empty or absent: no narrowing). */
  onlyTables?: string[];
}

export interface TableFilter {
  /**
   * Whether statements about the schema itself (CREATE/DROP DATABASE) are migrated. As in DM,
   * only `do-dbs`/`ignore-dbs` decide this: a schema may pass while none of its tables do.
   */
  schema(name: string): boolean;
  table(schema: string, table: string): boolean;
}

interface TableMatcher {
  db: NameMatcher;
  tbl: NameMatcher;
}

/**
 * DM's block-allow list (tidb-tools filter) precedence:
 * - schema: with `do-dbs`, the schema must match one of them (`ignore-dbs` is then not
 *   consulted); otherwise a match in `ignore-dbs` drops it;
 * - table (after the schema passed): a `do-tables` match keeps it; else an `ignore-tables`
 *   match drops it; else it is kept only if `do-tables` is empty.
 * The mydumper `-B`/`-T` narrowing applies on top, to dump and replication alike, so that
 * replication never touches a table the copy skipped.
 */
export function makeTableFilter(list: BlockAllowList | null, opts: TableFilterOptions): TableFilter {
  const { caseSensitive } = opts;
  const fold = (name: string) => (caseSensitive ? name : name.toLowerCase());
  const names = (patterns: NamePattern[]) => patterns.map((p) => compilePattern(p, caseSensitive));
  const tables = (rules: BlockAllowList['doTables']): TableMatcher[] =>
    rules.map((r) => ({ db: compilePattern(r.dbName, caseSensitive), tbl: compilePattern(r.tblName, caseSensitive) }));

  const doDbs = names(list?.doDbs ?? []);
  const ignoreDbs = names(list?.ignoreDbs ?? []);
  const doTables = tables(list?.doTables ?? []);
  const ignoreTables = tables(list?.ignoreTables ?? []);
  const onlyDbs = new Set((opts.onlyDbs ?? []).map(fold));
  const onlyTables = (opts.onlyTables ?? []).map((entry) => {
    const dot = entry.indexOf('.');
    return dot < 0 ? { db: undefined, table: fold(entry) } : { db: fold(entry.slice(0, dot)), table: fold(entry.slice(dot + 1)) };
  });

  const anyMatch = (rules: TableMatcher[], schema: string, table: string) => rules.some((r) => r.db(schema) && r.tbl(table));

  function schema(name: string): boolean {
    if (SYSTEM.has(name.toLowerCase())) return false;
    if (onlyDbs.size > 0 && !onlyDbs.has(fold(name))) return false;
    if (doDbs.length > 0) return doDbs.some((m) => m(name));
    return !ignoreDbs.some((m) => m(name));
  }

  function table(schemaName: string, tableName: string): boolean {
    if (!schema(schemaName)) return false;
    if (onlyTables.length > 0) {
      const db = fold(schemaName);
      const tbl = fold(tableName);
      if (!onlyTables.some((t) => t.table === tbl && (t.db === undefined || t.db === db))) return false;
    }
    if (anyMatch(doTables, schemaName, tableName)) return true;
    if (anyMatch(ignoreTables, schemaName, tableName)) return false;
    return doTables.length === 0;
  }

  return { schema, table };
}
