import { ERROR_CODES, type DmqErrorCode, type ErrorClass } from './error-codes.js';
import { ER, serverErrno } from './sql/server-errors.js';

export type { DmqErrorCode } from './error-codes.js';

export interface DmqErrorOptions {
  cause?: unknown;
  workaround?: string;
  /** Where it happened: a config field path, `schema`.`table`, a binlog position. */
  where?: string;
  /** DM's error for the same situation, whose text users search logs and status for. */
  dm?: DmError;
}

export interface DmError {
  /** DM's numeric code (`[code=36008:...]` in DM's output). */
  code: number;
  /** The opening words of DM's message, as DM prints them. */
  text: string;
}

/** DM's errors dmq has an equivalent of, from DM's errors.toml. */
export const DM_ERRORS = {
  invalidTimezone: { code: 20008, text: 'invalid timezone string' },
  checkFailed: { code: 26005, text: 'fail to check synchronization configuration with type' },
  safeModeConflict: { code: 20061, text: 'safe-mode(true) conflicts with safe-mode-duration(0s)' },
  inconsistentDdl: { code: 36008, text: 'detect inconsistent DDL sequence' },
} as const satisfies Record<string, DmError>;

/** DM's words and code, to put before dmq's own explanation. */
export function dmWords(dm: DmError): string {
  return `${dm.text} [code=${dm.code}]`;
}

/**
 * Every failure a user can cause or meet is a DmqError: a stable code for scripts, a message
 * that names the field, table or position involved, and a workaround that says what to do.
 */
export class DmqError extends Error {
  readonly code: DmqErrorCode;
  readonly workaround: string | undefined;
  readonly where: string | undefined;

  constructor(code: DmqErrorCode, message: string, options: DmqErrorOptions = {}) {
    super(options.dm ? `${dmWords(options.dm)}: ${message}` : message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DmqError';
    this.code = code;
    this.workaround = options.workaround;
    this.where = options.where;
  }
}

export interface ErrorRecord {
  code: DmqErrorCode;
  message: string;
  workaround?: string;
  where?: string;
  cause?: string;
}

/** A plain, JSON-safe description of any thrown value, for status output and job failures. */
export function toErrorRecord(err: unknown): ErrorRecord {
  if (err instanceof DmqError) {
    const record: ErrorRecord = { code: err.code, message: err.message };
    if (err.workaround) record.workaround = err.workaround;
    if (err.where) record.where = err.where;
    const cause = causeText(err.cause);
    if (cause) record.cause = cause;
    return record;
  }
  return { code: 'INTERNAL', message: causeText(err) ?? 'unknown error' };
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (cause instanceof Error) {
    const sqlCode = (cause as { code?: unknown }).code;
    return typeof sqlCode === 'string' ? `${sqlCode}: ${cause.message}` : cause.message;
  }
  return String(cause);
}

/** Where a failure is met: a job in a processor, or a source's binlog reader. */
export type ErrorSite = 'job' | 'binlog-reader';

/** How `err`, met at `site`, is handled: see ErrorClass. Anything not a DmqError is worth a retry. */
export function errorClass(err: unknown, site: ErrorSite): ErrorClass {
  if (err instanceof DmqError) return ERROR_CODES[err.code];
  // Only a binlog dump request gets this answer, so only the reader can meet it, and no
  // restart can read a purged position. Jobs keep their rule for raw errors: retry.
  if (site === 'binlog-reader' && serverErrno(err) === ER.SOURCE_FATAL_ERROR_READING_BINLOG) return 'operator';
  return 'retry';
}

/** Whether `err`, met at `site`, pauses the task at once instead of being retried. */
export function pausesTaskAtOnce(err: unknown, site: ErrorSite): boolean {
  return errorClass(err, site) === 'operator';
}
