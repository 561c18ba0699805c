import type { Redis } from 'ioredis';
import type { ErrorRecord } from '../errors.js';

/**
 * What one `dmq diff` run found, kept in Redis beside the task's state: the job that compares
 * writes it as it goes, the API, query-status, the task page and /metrics read it. It is a
 * report, not a checkpoint: losing it loses nothing but the need to run the diff again.
 */
/** `pending`: not compared yet (the run goes on). */
export type TableOutcome = 'pending' | 'equal' | 'different' | 'copying' | 'missing' | 'mismatch' | 'failed';

export interface DiffRowReport {
  kind: 'missing' | 'extra' | 'changed';
  /** The row's key by column (a keyless table: every column), values as text, binary as 0x hex. */
  key: Record<string, string | null>;
  /** Copies of the row, above 1 only in a table without a key. */
  count: number;
}

export interface TableDiffReport {
  /** The target table, `schema`.`table`. */
  table: string;
  /** Every source table merged into it: `source-id` `schema`.`table`. */
  sources: string[];
  outcome: TableOutcome;
  /** Source rows compared (the target's count where the two differ is in the chunks' detail). */
  rows: number;
  chunks: number;
  chunksDone: number;
  chunksDifferent: number;
  ms: number;
  /** Why a table could not be compared, or how it was compared (no key: full-row checksums). */
  notes: string[];
  differentRows: number;
  /** The differing rows, up to the run's limit (`differentRows` counts them all). */
  differences: DiffRowReport[];
}

export interface DiffReport {
  id: string;
  task: string;
  state: 'running' | 'done' | 'failed';
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  error?: ErrorRecord;
  tables: TableDiffReport[];
  /** Statements in the fix file (one per differing row listed). */
  fixStatements: number;
}

/** At most this many differing rows are listed and fixed per run: a broken table must not fill Redis. */
export const MAX_LISTED_ROWS = 10_000;

/** A running diff whose report has not moved for this long died with its process. */
export const DIFF_STALE_MS = 120_000;

const reportKey = (task: string) => `dmq:task:${task}:diff`;
const fixKey = (task: string) => `dmq:task:${task}:diff:fix`;
/** The keys of a task's diff, removed with the task. */
export const diffKeys = (task: string) => [reportKey(task), fixKey(task)];

export async function readDiffReport(redis: Redis, task: string): Promise<DiffReport | undefined> {
  const json = await redis.get(reportKey(task));
  return json === null ? undefined : (JSON.parse(json) as DiffReport);
}

export async function writeDiffReport(redis: Redis, report: DiffReport): Promise<void> {
  await redis.set(reportKey(report.task), JSON.stringify(report));
}

/**
 * Starts a run: only if no other is running (a compare-and-set on the report), so two `dmq diff`
 * of one task do not write one report. Returns false when one runs.
 */
export async function beginDiffReport(redis: Redis, report: DiffReport, now: number): Promise<boolean> {
  const previous = await readDiffReport(redis, report.task);
  if (previous?.state === 'running' && now - previous.updatedAt < DIFF_STALE_MS) return false;
  const swapped = await redis.eval(
    `local cur = redis.call('get', KEYS[1]) if (cur or '') == ARGV[1] then redis.call('set', KEYS[1], ARGV[2]) redis.call('del', KEYS[2]) return 1 end return 0`,
    2,
    reportKey(report.task),
    fixKey(report.task),
    previous ? JSON.stringify(previous) : '',
    JSON.stringify(report),
  );
  return Number(swapped) === 1;
}

/** Starts the fix SQL of a run over (a run whose worker died starts again from the beginning). */
export async function startFixStatements(redis: Redis, task: string, header: string[]): Promise<void> {
  await redis
    .multi()
    .del(fixKey(task))
    .rpush(fixKey(task), ...header)
    .exec();
}

export async function appendFixStatements(redis: Redis, task: string, statements: string[]): Promise<void> {
  if (statements.length > 0) await redis.rpush(fixKey(task), ...statements);
}

export async function readFixStatements(redis: Redis, task: string): Promise<string[]> {
  return redis.lrange(fixKey(task), 0, -1);
}

/** The run in a few numbers, for query-status and /metrics. */
export function diffSummary(report: DiffReport) {
  const count = (outcome: TableOutcome) => report.tables.filter((t) => t.outcome === outcome).length;
  return {
    id: report.id,
    state: report.state,
    startedAt: new Date(report.startedAt).toISOString(),
    finishedAt: report.finishedAt ? new Date(report.finishedAt).toISOString() : null,
    tables: report.tables.length,
    equal: count('equal'),
    different: count('different'),
    copying: count('copying'),
    missing: count('missing'),
    mismatch: count('mismatch'),
    failed: count('failed'),
    rowsCompared: report.tables.reduce((n, t) => n + t.rows, 0),
    differentRows: report.tables.reduce((n, t) => n + t.differentRows, 0),
    error: report.error?.message ?? null,
  };
}

/** Whether a finished run proves the target equal: every table compared and equal. */
export function diffClean(report: DiffReport): boolean {
  return report.state === 'done' && report.tables.every((t) => t.outcome === 'equal');
}
