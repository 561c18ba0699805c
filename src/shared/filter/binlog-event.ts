import type { EventFilterRule, FilterAction } from '../config/types.js';
import { DmqError } from '../errors.js';
import { BINLOG_EVENT_TYPES } from './events.js';
import { compilePattern, compileRegExp, type NameMatcher } from './pattern.js';

/**
 * DM's binlog event filter (`filters` in task.yaml; tidb-tools/tiflow `binlog-filter`).
 *
 * Rules for an event: every rule whose schema-pattern matches, if it has no table-pattern
 * (it then covers the schema's own statements and all its tables), or if its table-pattern
 * matches too (statements about the schema itself have table '', which only `*` matches).
 *
 * Each rule has up to two tests: the event type against `events` (skipped for a statement DM
 * cannot classify, event ''), and the statement text against `sql-pattern` (only when the
 * rule has patterns and there is text; row events never have any).
 * - `Ignore` / `Error`: the rule fires when either test holds.
 * - `Do` is an allow list: the event is ignored unless every test holds. So a `Do` rule with
 *   only a sql-pattern ignores every classified event, DML included, exactly as in DM.
 * Then Ignore beats Error, and Error beats Do; with no rule firing the event is applied.
 */

/** A name from BINLOG_EVENT_TYPES minus the groups, or '' for a statement of no known type. */
export type BinlogEventType = string;

export interface EventToFilter {
  schema: string;
  /** '' for schema-level statements (create/drop database). */
  table: string;
  /**
   * e.g. 'insert' | 'update' | 'delete' | 'create table' | 'alter table' | ..., or '' for a
   * statement that has no event type (CREATE PROCEDURE, FLUSH ...): only sql-pattern judges it.
   */
  event: BinlogEventType;
  /** The statement text for DDL (matched by sql-pattern); absent for row events. */
  sql?: string;
}

export interface EventFilterVerdict {
  action: FilterAction;
  /**
   * The rule that decided, for logs and errors: the first (in config order) that ignored or
   * refused the event, or else the first `Do` rule that let it through; absent when no rule did.
   */
  rule?: string;
}

const DML = new Set(['insert', 'update', 'delete']);

const GROUPS = new Set(['all', 'all dml', 'all ddl', 'none', 'none dml', 'none ddl', 'incompatible ddl changes']);

/** DDL that DM does not count among its "incompatible ddl changes"; every other DDL name is one. */
const COMPATIBLE_DDL = new Set([
  'create database',
  'alter database',
  'create table',
  'create index',
  'create view',
  'drop view',
  'alter table',
  'add table partition',
]);

type EventClass = 'dml' | 'ddl' | 'incompatible ddl' | 'unclassified';

function classify(event: string): EventClass {
  if (event === '') return 'unclassified';
  if (DML.has(event)) return 'dml';
  if (COMPATIBLE_DDL.has(event)) return 'ddl';
  if (BINLOG_EVENT_TYPES.has(event) && !GROUPS.has(event)) return 'incompatible ddl';
  throw new DmqError('INTERNAL', `binlog event filter asked about unknown event type ${JSON.stringify(event)}`, {
    workaround: 'report this as a dmq bug',
  });
}

/**
 * Whether `events` lists the event. As in DM the entries are read in order and the first one
 * that decides wins, so `['none', 'insert']` lists nothing and `['insert', 'none']` lists insert.
 */
function listed(events: readonly string[], event: string, kind: Exclude<EventClass, 'unclassified'>): boolean {
  for (const entry of events) {
    if (entry === 'all' || entry === event) return true;
    if (entry === 'none') return false;
    if (kind === 'dml') {
      if (entry === 'all dml') return true;
      if (entry === 'none dml') return false;
    } else {
      if (entry === 'all ddl') return true;
      if (entry === 'none ddl') return false;
      if (entry === 'incompatible ddl changes' && kind === 'incompatible ddl') return true;
    }
  }
  return false;
}

interface CompiledRule {
  rule: EventFilterRule;
  schema: NameMatcher;
  table: NameMatcher | undefined;
  sql: ReturnType<typeof compileRegExp>[];
}

/** What one rule says about the event; undefined when an Ignore/Error rule does not fire. */
function judge(r: CompiledRule, ev: EventToFilter, kind: EventClass): FilterAction | undefined {
  const tests: boolean[] = [];
  if (kind !== 'unclassified') tests.push(listed(r.rule.events, ev.event, kind));
  const sql = kind === 'dml' ? undefined : ev.sql;
  if (sql && r.sql.length > 0) tests.push(r.sql.some((re) => re.test(sql)));
  if (r.rule.action === 'Do') return tests.every(Boolean) ? 'Do' : 'Ignore';
  return tests.some(Boolean) ? r.rule.action : undefined;
}

/**
 * Selecting rules depends only on the table and happens for every row event, so it is cached;
 * the cap bounds memory when table names keep changing (online-DDL shadow tables).
 */
const SELECTION_CACHE_LIMIT = 4096;

/** Throws DmqError CONFIG_INVALID for a bad schema/table pattern or sql-pattern. */
export function makeEventFilter(rules: EventFilterRule[], caseSensitive: boolean): (ev: EventToFilter) => EventFilterVerdict {
  const compiled: CompiledRule[] = rules.map((rule) => ({
    rule,
    schema: compilePattern(rule.schemaPattern, caseSensitive),
    table: rule.tablePattern === undefined ? undefined : compilePattern(rule.tablePattern, caseSensitive),
    // DM compiles sql-pattern with (?i) whatever case-sensitive says: that setting is about names.
    sql: rule.sqlPattern.map((source, i) => compileRegExp(source, { ignoreCase: true }, `filters.${rule.name}.sql-pattern[${i}]`)),
  }));

  const selected = new Map<string, CompiledRule[]>();
  function select(schema: string, table: string): CompiledRule[] {
    const key = `${schema}\0${table}`;
    let found = selected.get(key);
    if (!found) {
      found = compiled.filter((r) => r.schema(schema) && (r.table === undefined || r.table(table)));
      if (selected.size >= SELECTION_CACHE_LIMIT) selected.clear();
      selected.set(key, found);
    }
    return found;
  }

  return (ev) => {
    const kind = classify(ev.event);
    let refusedBy: string | undefined;
    let allowedBy: string | undefined;
    for (const r of select(ev.schema, ev.table)) {
      const said = judge(r, ev, kind);
      if (said === 'Ignore') return { action: 'Ignore', rule: r.rule.name };
      if (said === 'Error') refusedBy ??= r.rule.name;
      else if (said === 'Do') allowedBy ??= r.rule.name;
    }
    if (refusedBy !== undefined) return { action: 'Error', rule: refusedBy };
    return allowedBy === undefined ? { action: 'Do' } : { action: 'Do', rule: allowedBy };
  };
}
