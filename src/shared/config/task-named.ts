import { BINLOG_EVENT_ALIASES, BINLOG_EVENT_TYPES } from '../filter/events.js';
import { expressionProblem } from '../filter/expression.js';
import { compilePattern, compileRegExp } from '../filter/pattern.js';
import { DM_ERRORS, dmWords } from '../errors.js';
import { parseExtraArgs } from './extra-args.js';
import type {
  RawBlockAllow,
  RawExpressionFilter,
  RawFilter,
  RawLoader,
  RawMydumper,
  RawRoute,
  RawSyncer,
  RawValidator,
} from './task-schema.js';
import { goDurationMs, ramSizeBytes } from './units.js';
import { startTimeMs } from '../state/validation-state.js';
import type {
  BlockAllowList,
  ConfigNotice,
  DumperConfig,
  EventFilterRule,
  ExpressionFilter,
  FilterAction,
  LoaderConfig,
  RouteRule,
  SyncerConfig,
  ValidatorConfig,
} from './types.js';

/**
 * The entries of task.yaml's named sections (block-allow-list, routes, filters, mydumpers,
 * loaders, syncers) → normalized configs with DM's defaults. Problems go to `issues` as
 * `<path>: <problem>`; patterns and regexps are compiled here so a bad one is reported at its
 * path when the task is submitted, not when it runs.
 */

function checkPattern(pattern: string, path: string, caseSensitive: boolean, issues: string[]): void {
  try {
    compilePattern(pattern, caseSensitive);
  } catch (err) {
    issues.push(`${path}: ${(err as Error).message}`);
  }
}

function checkRegExp(source: string, ignoreCase: boolean, path: string, issues: string[]): void {
  try {
    compileRegExp(source, { ignoreCase }, source);
  } catch (err) {
    issues.push(`${path}: ${(err as Error).message}`);
  }
}

export function buildBlockAllow(raw: RawBlockAllow, path: string, caseSensitive: boolean, issues: string[]): BlockAllowList {
  const tables = (key: 'do-tables' | 'ignore-tables') =>
    (raw[key] ?? []).map((t, i) => {
      checkPattern(t['db-name'], `${path}.${key}[${i}].db-name`, caseSensitive, issues);
      checkPattern(t['tbl-name'], `${path}.${key}[${i}].tbl-name`, caseSensitive, issues);
      return { dbName: t['db-name'], tblName: t['tbl-name'] };
    });
  const dbs = (key: 'do-dbs' | 'ignore-dbs') =>
    (raw[key] ?? []).map((db, i) => {
      checkPattern(db, `${path}.${key}[${i}]`, caseSensitive, issues);
      return db;
    });
  return { doDbs: dbs('do-dbs'), ignoreDbs: dbs('ignore-dbs'), doTables: tables('do-tables'), ignoreTables: tables('ignore-tables') };
}

export function buildRoute(name: string, raw: RawRoute, path: string, caseSensitive: boolean, issues: string[]): RouteRule {
  const rule: RouteRule = { name, schemaPattern: raw['schema-pattern'], targetSchema: raw['target-schema'] ?? '' };
  checkPattern(rule.schemaPattern, `${path}.schema-pattern`, caseSensitive, issues);
  if (raw['table-pattern']) {
    rule.tablePattern = raw['table-pattern'];
    checkPattern(rule.tablePattern, `${path}.table-pattern`, caseSensitive, issues);
  }
  if (raw['target-table']) {
    rule.targetTable = raw['target-table'];
    if (!rule.tablePattern) issues.push(`${path}.target-table: needs a table-pattern (a rule without one renames whole schemas)`);
  }
  const ignoreCase = !caseSensitive;
  const table = raw['extract-table'];
  if (table) {
    rule.extractTable = { tableRegexp: table['table-regexp'], targetColumn: table['target-column'] };
    checkRegExp(table['table-regexp'], ignoreCase, `${path}.extract-table.table-regexp`, issues);
  }
  const schema = raw['extract-schema'];
  if (schema) {
    rule.extractSchema = { schemaRegexp: schema['schema-regexp'], targetColumn: schema['target-column'] };
    checkRegExp(schema['schema-regexp'], ignoreCase, `${path}.extract-schema.schema-regexp`, issues);
  }
  const source = raw['extract-source'];
  if (source) {
    rule.extractSource = { sourceRegexp: source['source-regexp'], targetColumn: source['target-column'] };
    checkRegExp(source['source-regexp'], ignoreCase, `${path}.extract-source.source-regexp`, issues);
  }
  return rule;
}

const ACTIONS: FilterAction[] = ['Do', 'Ignore', 'Error'];

/**
 * A filter rule, or null when DM would drop it: DM logs a rule naming an event it does not know
 * and goes on without the whole rule (its own tests have `events: ["truncate table", "truncate"]`),
 * so dmq drops it too, and says so where DM only logs.
 */
export function buildFilter(
  name: string,
  raw: RawFilter,
  path: string,
  caseSensitive: boolean,
  issues: string[],
  notices: ConfigNotice[],
): EventFilterRule | null {
  const action = ACTIONS.find((a) => a.toLowerCase() === raw.action.toLowerCase());
  if (!action) issues.push(`${path}.action: expected one of Do, Ignore, Error, got ${JSON.stringify(raw.action)}`);
  const events = (raw.events ?? []).map((event) => {
    const spelled = event.trim().toLowerCase().replace(/\s+/g, ' ');
    return BINLOG_EVENT_ALIASES.get(spelled) ?? spelled;
  });
  const unknown = events.findIndex((event) => !BINLOG_EVENT_TYPES.has(event));
  if (unknown >= 0) {
    notices.push({
      field: `${path}.events[${unknown}]`,
      note:
        `unknown event ${JSON.stringify(raw.events![unknown])}: DM ignores the whole rule "${name}" (its events ${events.join(', ')} are not filtered), and so does dmq; ` +
        `write one of ${[...BINLOG_EVENT_TYPES].join(', ')} to have the rule apply`,
    });
    return null;
  }
  const sqlPattern = raw['sql-pattern'] ?? [];
  // DM matches sql-pattern case-insensitively whatever case-sensitive says.
  for (const [i, re] of sqlPattern.entries()) checkRegExp(re, true, `${path}.sql-pattern[${i}]`, issues);
  const rule: EventFilterRule = { name, schemaPattern: raw['schema-pattern'], events, sqlPattern, action: action ?? 'Do' };
  checkPattern(rule.schemaPattern, `${path}.schema-pattern`, caseSensitive, issues);
  if (raw['table-pattern']) {
    rule.tablePattern = raw['table-pattern'];
    checkPattern(rule.tablePattern, `${path}.table-pattern`, caseSensitive, issues);
  }
  return rule;
}

const EXPRESSION_FIELDS = [
  ['insert-value-expr', 'insertValueExpr'],
  ['update-old-value-expr', 'updateOldValueExpr'],
  ['update-new-value-expr', 'updateNewValueExpr'],
  ['delete-value-expr', 'deleteValueExpr'],
] as const;

/**
 * As DM, a filter holds one kind of expression (insert, update, or delete), and an empty one
 * counts as absent. DM also parses each with TiDB's parser here; dmq has the source and the
 * target judge them at precheck, and only checks that each is one expression.
 */
export function buildExpressionFilter(name: string, raw: RawExpressionFilter, path: string, issues: string[]): ExpressionFilter {
  const filter: ExpressionFilter = { name, schema: raw.schema, table: raw.table };
  for (const [field, key] of EXPRESSION_FIELDS) {
    const sql = raw[field];
    if (sql === undefined || sql === '') continue;
    const problem = expressionProblem(sql);
    if (problem) issues.push(`${path}.${field}: ${problem}`);
    filter[key] = sql;
  }
  const kinds = [
    filter.insertValueExpr && 'insert-value-expr',
    (filter.updateOldValueExpr || filter.updateNewValueExpr) && 'update-old-value-expr/update-new-value-expr',
    filter.deleteValueExpr && 'delete-value-expr',
  ].filter((kind): kind is string => typeof kind === 'string');
  if (kinds.length > 1) {
    issues.push(
      `${path}: an expression filter can only specify one of (insert, update, delete) expressions, but this one has ${kinds.join(', ')}; write one filter for each`,
    );
  }
  return filter;
}

const DEFAULT_THREADS = 4;

export function buildDumper(raw: RawMydumper, path: string, issues: string[]): DumperConfig {
  const extraArgs = raw['extra-args'] ?? '';
  const args = parseExtraArgs(extraArgs, `${path}.extra-args`, issues);
  // An explicit field wins over the same setting buried in extra-args.
  const dumper: DumperConfig = {
    threads: raw.threads ?? args.threads ?? DEFAULT_THREADS,
    rows: raw.rows ?? args.rows ?? 0,
    extraArgs,
    onlyDbs: args.onlyDbs,
    onlyTables: args.onlyTables,
    noLocks: args.noLocks,
  };
  if (raw['chunk-filesize'] !== undefined) dumper.chunkFilesize = raw['chunk-filesize'];
  return dumper;
}

export function buildLoader(raw: RawLoader, path: string, issues: string[]): LoaderConfig {
  const logical = raw['on-duplicate-logical'];
  const legacy = raw['on-duplicate'];
  if (logical !== undefined && legacy !== undefined && logical !== legacy) {
    issues.push(`${path}.on-duplicate: conflicts with on-duplicate-logical (on-duplicate is its old name; keep one)`);
  }
  const loader: LoaderConfig = { poolSize: raw['pool-size'] ?? 16, onDuplicate: logical ?? legacy ?? 'replace' };
  if (raw.dir !== undefined && raw.dir !== '') loader.dir = raw.dir;
  return loader;
}

export function buildSyncer(raw: RawSyncer, path: string, issues: string[]): SyncerConfig {
  const safeMode = raw['safe-mode'] ?? false;
  const safeModeDuration = raw['safe-mode-duration'] ?? '60s';
  if (safeMode && /^(?:0+(?:\.0+)?[a-zµ]*)+$/.test(safeModeDuration)) {
    issues.push(
      `${path}.safe-mode-duration: ${dmWords(DM_ERRORS.safeModeConflict)}; set safe-mode to false or safe-mode-duration to more than 0s`,
    );
  }
  return {
    workerCount: raw['worker-count'] ?? 16,
    ...(raw['worker-count'] === undefined ? {} : { lanes: raw['worker-count'] }),
    batch: raw.batch ?? 100,
    safeMode,
    safeModeDuration,
    compact: raw.compact ?? false,
    multipleRows: raw['multiple-rows'] ?? false,
  };
}

/** DM's defaults (dm/config/task.go): mode none, 4 workers, 10 s, 5 s, 30 min, 5 min, 100, 500m, no count limit. */
export function buildValidator(raw: RawValidator, path: string, issues: string[]): ValidatorConfig {
  const validator: ValidatorConfig = {
    mode: raw.mode ?? 'none',
    workerCount: raw['worker-count'] ?? 4,
    validateIntervalMs: goDurationMs(raw['validate-interval'] ?? '10s'),
    checkIntervalMs: goDurationMs(raw['check-interval'] ?? '5s'),
    rowErrorDelayMs: goDurationMs(raw['row-error-delay'] ?? '30m'),
    metaFlushIntervalMs: goDurationMs(raw['meta-flush-interval'] ?? '5m'),
    batchQuerySize: raw['batch-query-size'] ?? 100,
    maxPendingRowSize: ramSizeBytes(raw['max-pending-row-size'] ?? '500m'),
    maxPendingRowCount: raw['max-pending-row-count'] ?? 2 ** 31 - 1,
  };
  for (const field of ['validate-interval', 'check-interval', 'row-error-delay', 'meta-flush-interval'] as const) {
    if (raw[field] !== undefined && goDurationMs(raw[field]) <= 0) issues.push(`${path}.${field}: must be more than 0s`);
  }
  const start = raw['start-time'];
  if (start !== undefined) {
    if (Number.isNaN(startTimeMs(start))) {
      issues.push(
        `${path}.start-time: ${JSON.stringify(start)} is not a time such as "2021-10-21 00:01:00" or "2021-10-21T00:01:00+08:00"`,
      );
    } else validator.startTime = start;
  }
  return validator;
}
