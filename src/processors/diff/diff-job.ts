import type { Job } from 'bullmq';
import type { KeyValue } from '../../shared/chunk/chunk.js';
import {
  appendFixStatements,
  MAX_LISTED_ROWS,
  readDiffReport,
  startFixStatements,
  writeDiffReport,
  type DiffRowReport,
} from '../../shared/diff/diff-report.js';
import { toErrorRecord } from '../../shared/errors.js';
import type { DiffJob } from '../../shared/queue/queues.js';
import type { ColumnInfo } from '../../shared/sql/catalog.js';
import { DEFAULT_TIME_ZONE } from '../../shared/sql/connect.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { compareChunk } from './compare-chunk.js';
import { typeFamily } from './diff-columns.js';
import type { SqlFragment } from './diff-sql.js';
import { planDiff, type TableWork } from './diff-plan.js';
import { fixHeader, fixStatements } from './fix-sql.js';
import type { RawRow, RowDifference } from './row-compare.js';

/** Key ranges compared at once, over every table: each holds a source and a target connection. */
const DIFF_CONCURRENCY = 4;
/** The report in Redis is rewritten at most this often while the run goes (and once at its end). */
const SAVE_MS = 1000;

function keyText(value: KeyValue | Buffer | null, binary: boolean): string | null {
  if (value === null) return null;
  if (Buffer.isBuffer(value)) return binary ? `0x${value.toString('hex')}` : value.toString('utf8');
  return String(value);
}

/** A differing row as the report shows it: its key by column, or every column of a keyless row. */
export function rowReport(key: ColumnInfo[], columns: ColumnInfo[], difference: RowDifference): DiffRowReport {
  const binary = (c: ColumnInfo) => typeFamily(c) === 'binary';
  const shown: [ColumnInfo, KeyValue | Buffer | null][] =
    key.length > 0 ? key.map((c, i) => [c, difference.key[i] ?? null]) : columns.map((c, i) => [c, (difference.row as RawRow)[i] ?? null]);
  return {
    kind: difference.kind,
    key: Object.fromEntries(shown.map(([c, v]) => [c.name, keyText(v, binary(c))])),
    count: difference.count,
  };
}

/**
 * One `dmq diff` run: plans every table, compares their key ranges a few at a time, and keeps the
 * report in Redis current. A table that cannot be compared, or fails, is one line of the report;
 * the run goes on with the others. It never throws: a failed diff is in its report and must not
 * pause the task the way a failed job of the task's own units does.
 */
export async function handleDiffJob(job: Job<DiffJob>, ctx: ServiceContext): Promise<void> {
  await runDiff(job.data, ctx).catch((err: unknown) => ctx.log.warn({ task: job.data.task, diff: job.data.id, err }, 'diff failed'));
}

async function runDiff({ task: name, id }: DiffJob, ctx: ServiceContext): Promise<void> {
  const report = await readDiffReport(ctx.redis, name);
  // A newer run took over the report (this job was queued twice, or outlived its run).
  if (!report || report.id !== id || report.state !== 'running') return;
  const log = ctx.log.child({ task: name, diff: id });
  let dirty = true;
  let listed = 0;
  let superseded = false;
  // A run taken over after it looked dead (see DIFF_STALE_MS) stops writing over its successor.
  const save = async () => {
    dirty = false;
    if (superseded || (await readDiffReport(ctx.redis, name))?.id !== id) {
      superseded = true;
      return;
    }
    report.updatedAt = Date.now();
    await writeDiffReport(ctx.redis, report);
  };
  const timer = setInterval(() => {
    if (dirty || Date.now() - report.updatedAt > SAVE_MS * 10)
      void save().catch((err: unknown) => log.warn({ err }, 'cannot save the diff report'));
  }, SAVE_MS);
  try {
    const task = await ctx.registry.requireTask(name);
    const work = await planDiff(ctx, task);
    report.tables = work.map((w) => w.report);
    report.fixStatements = 0;
    await startFixStatements(ctx.redis, name, fixHeader(name, task.timezone ?? DEFAULT_TIME_ZONE));
    await save();
    log.info({ tables: work.length, ranges: work.reduce((n, w) => n + w.ranges.length, 0) }, 'diff planned');

    const queue = work.flatMap((w) => w.ranges.map((range) => ({ work: w, range })));
    const started = new Map<TableWork, number>();
    const compareOne = async (w: TableWork, range: SqlFragment[]) => {
      const table = w.report;
      if (superseded || table.outcome === 'failed' || !w.comparison) return;
      if (!started.has(w)) started.set(w, Date.now());
      try {
        const outcome = await compareChunk(w.comparison, range);
        table.rows += outcome.rows;
        for (const lag of outcome.lagging) if (!table.notes.includes(lag)) table.notes.push(lag);
        if (outcome.differences.length > 0) {
          table.chunksDifferent += 1;
          const statements: string[] = [];
          for (const d of outcome.differences) {
            table.differentRows += d.count;
            if (listed >= MAX_LISTED_ROWS) continue;
            listed += 1;
            table.differences.push(rowReport(w.comparison.key, w.comparison.columns, d));
            statements.push(...fixStatements(w.target, w.comparison.key, w.comparison.columns, d));
          }
          await appendFixStatements(ctx.redis, name, statements);
          report.fixStatements += statements.length;
        }
      } catch (err) {
        table.outcome = 'failed';
        table.notes.push(`comparison failed: ${toErrorRecord(err).message}`);
        log.warn({ table: table.table, err }, 'diff of a table failed');
      }
      table.chunksDone += 1;
      if (table.outcome !== 'failed' && table.chunksDone === table.chunks) table.outcome = table.differentRows > 0 ? 'different' : 'equal';
      table.ms = Date.now() - started.get(w)!;
      dirty = true;
    };
    await Promise.all(
      Array.from({ length: DIFF_CONCURRENCY }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await compareOne(next.work, next.range);
      }),
    );
    if (listed >= MAX_LISTED_ROWS) log.warn({ listed }, 'more rows differ than the report lists; fix these and run the diff again');
    report.state = 'done';
  } catch (err) {
    report.state = 'failed';
    report.error = toErrorRecord(err);
    log.warn({ err }, 'diff failed');
  } finally {
    clearInterval(timer);
    report.finishedAt = Date.now();
    await save();
  }
  log.info(
    { state: report.state, tables: report.tables.length, differentRows: report.tables.reduce((n, t) => n + t.differentRows, 0) },
    'diff finished',
  );
}
