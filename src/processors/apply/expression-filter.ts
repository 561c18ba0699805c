import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { ApplyJob, Batch, EncodedChange, RowOp } from '../../shared/binlog/batch.js';
import { decodeRow, type RowValue } from '../../shared/binlog/payload-values.js';
import type { ExpressionFilter } from '../../shared/config/types.js';
import type { TargetDialect } from '../../shared/ddl/target-dialect.js';
import { DmqError } from '../../shared/errors.js';
import {
  deleteExpressions,
  describeExpression,
  insertExpressions,
  matchSql,
  mentionedColumns,
  updateExpressions,
  type NamedExpression,
} from '../../shared/filter/expression.js';
import type { Logger } from '../../shared/logger.js';
import { isUnreachable } from '../../shared/sql/connect.js';
import { quoteId, tableLabel } from '../../shared/sql/quote.js';
import { ER, TRANSIENT, isServerError, serverErrno } from '../../shared/sql/server-errors.js';
import { filterLiteral } from './filter-literal.js';

/**
 * DM's expression filters in the applier: which changes of a job's batches are left out. Each
 * row image is evaluated on its own, before changes to the same row are combined into
 * statements, so the verdict is DM's per-event one. The target server evaluates: the rows'
 * values go as typed literals in a derived table whose columns carry the source's names, one
 * query per group of rows, `SELECT (expr) <=> 1 ... FROM (SELECT ... UNION ALL ...)`. The same
 * values give the same verdict, so a redelivered job leaves out the same changes.
 */

/** Rows per evaluating query, and about how many characters of SQL. */
const ROWS_PER_QUERY = 500;
const CHARS_PER_QUERY = 1 << 20;

export interface FilteredBatches {
  batches: Batch[];
  /** Changes left out, by kind. */
  left: Record<RowOp, number>;
}

/** The table's columns and kinds as the expressions see them, and how to reach the target. */
interface Evaluation {
  conn: PoolConnection;
  job: ApplyJob;
  columns: string[];
  target: TargetDialect['kind'];
  log: Logger;
}

/**
 * Expressions that name a column the table does not have never match (as in DM, which logs a
 * warning). Remembered per table layout, so each is tried and reported once per process.
 */
const unknownColumn = new Set<string>();
const UNKNOWN_LIMIT = 4096;

const layoutKey = (ev: Evaluation, e: NamedExpression) =>
  JSON.stringify([ev.job.task, ev.job.sourceId, ev.job.schema, ev.job.table, ev.columns, e.sql]);

/** A derived-table column name none of the table's columns has, to tell the rows apart. */
function rowIdColumn(columns: string[]): string {
  const taken = new Set(columns.map((c) => c.toLowerCase()));
  let name = 'dmq_row';
  while (taken.has(name)) name = `_${name}`;
  return name;
}

/**
 * The evaluating queries for `rows`: the mentioned columns of each row as literals, in groups;
 * each result row starts with the row's position in `rows`.
 */
function buildQueries(ev: Evaluation, expressions: NamedExpression[], rows: RowValue[][]): string[] {
  const kinds = ev.job.columnKinds;
  const used = mentionedColumns(
    expressions.map((e) => e.sql),
    ev.columns,
  ).map((name) => ev.columns.indexOf(name));
  const id = rowIdColumn(ev.columns);
  const head = `SELECT ${quoteId(id)}, ${expressions.map((e) => matchSql(e.sql)).join(', ')} FROM (`;
  const tail = ') AS dmq_filtered_rows';
  const queries: string[] = [];
  let selects: string[] = [];
  let chars = 0;
  const close = () => {
    if (selects.length === 0) return;
    queries.push(`${head}${selects.join(' UNION ALL ')}${tail}`);
    selects = [];
    chars = 0;
  };
  rows.forEach((row, position) => {
    const first = selects.length === 0;
    const values = used.map((i) => {
      const literal = filterLiteral(row[i] ?? null, kinds?.[i], ev.target);
      return first ? `${literal} AS ${quoteId(ev.columns[i]!)}` : literal;
    });
    const select = `SELECT ${position}${first ? ` AS ${quoteId(id)}` : ''}${values.map((v) => `, ${v}`).join('')}`;
    selects.push(select);
    chars += select.length;
    if (selects.length >= ROWS_PER_QUERY || chars >= CHARS_PER_QUERY) close();
  });
  close();
  return queries;
}

function failure(ev: Evaluation, e: NamedExpression | undefined, err: unknown, expressions: NamedExpression[]): DmqError {
  const table = tableLabel(ev.job);
  const what = e ? describeExpression(e, table) : `the expression filters of ${table} (${expressions.map((x) => x.filter).join(', ')})`;
  return new DmqError('EXPRESSION_FILTER_FAILED', `the target cannot evaluate ${what}: ${(err as Error).message}`, {
    cause: err,
    where: e ? `expression-filter.${e.filter}.${e.field}` : table,
    workaround:
      'fix the expression so that the target server accepts it, as dmq evaluates it there on the row values (stop-task, edit task.yaml, start-task); `dmq check-task` tries it first',
  });
}

/**
 * Each expression tried alone on one row: those naming a column the table lacks are remembered
 * as never matching; the first other refusal is the error to report.
 */
async function probe(ev: Evaluation, expressions: NamedExpression[], row: RowValue[]): Promise<DmqError | undefined> {
  for (const e of expressions) {
    const [query] = buildQueries(ev, [e], [row]);
    try {
      await ev.conn.query(`${query!} LIMIT 0`);
    } catch (err) {
      if (isUnreachable(err) || isServerError(err, TRANSIENT)) throw err;
      if (serverErrno(err) !== ER.BAD_FIELD_ERROR) return failure(ev, e, err, expressions);
      if (unknownColumn.size >= UNKNOWN_LIMIT) unknownColumn.clear();
      unknownColumn.add(layoutKey(ev, e));
      ev.log.warn(
        { task: ev.job.task, source: ev.job.sourceId, filter: e.filter, field: e.field, expression: e.sql, err: (err as Error).message },
        `${describeExpression(e, tableLabel(ev.job))} names a column the table does not have: it never matches (as in DM)`,
      );
    }
  }
  return undefined;
}

/** For each row, whether each expression matches it (an expression naming an unknown column never does). */
async function evaluate(ev: Evaluation, expressions: NamedExpression[], rows: RowValue[][]): Promise<boolean[][]> {
  const verdicts = rows.map(() => expressions.map(() => false));
  if (rows.length === 0) return verdicts;
  const sendable = () => expressions.filter((e) => !unknownColumn.has(layoutKey(ev, e)));
  let sent = sendable();
  for (let attempt = 0; attempt < 2 && sent.length > 0; attempt++) {
    try {
      for (const query of buildQueries(ev, sent, rows)) {
        const [result] = await ev.conn.query<RowDataPacket[]>({ sql: query, rowsAsArray: true });
        for (const row of result as unknown as unknown[][]) {
          const position = Number(row[0]);
          sent.forEach((e, j) => {
            verdicts[position]![expressions.indexOf(e)] = Number(row[j + 1]) === 1;
          });
        }
      }
      return verdicts;
    } catch (err) {
      if (isUnreachable(err) || isServerError(err, TRANSIENT)) throw err;
      if (attempt > 0) throw failure(ev, undefined, err, sent);
      const refused = await probe(ev, sent, rows[0]!);
      if (refused) throw refused;
      const still = sendable();
      if (still.length === sent.length) throw failure(ev, undefined, err, sent);
      sent = still;
    }
  }
  return verdicts;
}

interface Image {
  batch: number;
  change: number;
  values: RowValue[];
}

/** The row images of the changes of one kind, from the batches not settled by the operator. */
function images(batches: Batch[], op: RowOp, side: 'before' | 'after', settled: ReadonlySet<string>): Image[] {
  const out: Image[] = [];
  batches.forEach((b, batch) => {
    if (settled.has(b.coord)) return;
    b.changes.forEach((c, change) => {
      const encoded = c.op === op ? c[side] : undefined;
      if (encoded) out.push({ batch, change, values: decodeRow(encoded) });
    });
  });
  return out;
}

/** Which changes match some expression, as `batch:change` keys. */
async function matchingAny(ev: Evaluation, expressions: NamedExpression[], rows: Image[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (expressions.length === 0 || rows.length === 0) return out;
  const verdicts = await evaluate(
    ev,
    expressions,
    rows.map((r) => r.values),
  );
  rows.forEach((r, i) => {
    if (verdicts[i]!.some(Boolean)) out.add(`${r.batch}:${r.change}`);
  });
  return out;
}

/** Updates some filter leaves out: its old-value side matches the old row and its new-value side the new one. */
async function matchingUpdates(ev: Evaluation, filters: ExpressionFilter[], batches: Batch[], settled: ReadonlySet<string>) {
  const out = new Set<string>();
  const pairs = updateExpressions(filters);
  if (pairs.length === 0) return out;
  const before = images(batches, 'update', 'before', settled);
  if (before.length === 0) return out;
  const after = images(batches, 'update', 'after', settled);
  const olds = pairs.flatMap((p) => (p.old ? [p.old] : []));
  const news = pairs.flatMap((p) => (p.new ? [p.new] : []));
  const oldVerdicts = await evaluate(
    ev,
    olds,
    before.map((r) => r.values),
  );
  const newVerdicts = await evaluate(
    ev,
    news,
    after.map((r) => r.values),
  );
  before.forEach((r, i) => {
    const skipped = pairs.some(
      (p) => (p.old ? oldVerdicts[i]![olds.indexOf(p.old)]! : true) && (p.new ? newVerdicts[i]![news.indexOf(p.new)]! : true),
    );
    if (skipped) out.add(`${r.batch}:${r.change}`);
  });
  return out;
}

/**
 * `batches` without the changes the table's expression filters leave out. `settled` names the
 * batches the operator skipped or replaced, whose changes are not applied anyway.
 */
export async function filterByExpressions(
  conn: PoolConnection,
  job: ApplyJob,
  batches: Batch[],
  filters: ExpressionFilter[],
  options: { target: TargetDialect['kind']; settled: ReadonlySet<string>; log: Logger },
): Promise<FilteredBatches> {
  const kinds = job.columnKinds;
  const ev: Evaluation = {
    conn,
    job,
    columns: kinds ? job.columns.slice(0, kinds.length) : job.columns,
    target: options.target,
    log: options.log,
  };
  const { settled } = options;
  const left = new Set([
    ...(await matchingAny(ev, insertExpressions(filters), images(batches, 'insert', 'after', settled))),
    ...(await matchingUpdates(ev, filters, batches, settled)),
    ...(await matchingAny(ev, deleteExpressions(filters), images(batches, 'delete', 'before', settled))),
  ]);
  const counts: Record<RowOp, number> = { insert: 0, update: 0, delete: 0 };
  if (left.size === 0) return { batches, left: counts };
  const kept = batches.map((b, batch) => {
    const changes: EncodedChange[] = b.changes.filter((c, change) => {
      if (!left.has(`${batch}:${change}`)) return true;
      counts[c.op] += 1;
      return false;
    });
    return { ...b, changes };
  });
  return { batches: kept, left: counts };
}
