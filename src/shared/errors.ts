/**
 * Every failure a user can cause or meet is a DmqError: a stable code for scripts, a message
 * that names the field, table or position involved, and a workaround that says what to do.
 */
export type DmqErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_YAML'
  | 'SOURCE_NOT_FOUND'
  | 'SOURCE_EXISTS'
  | 'TASK_NOT_FOUND'
  | 'TASK_EXISTS'
  | 'CONNECT_FAILED'
  | 'ACCESS_DENIED'
  | 'PRECHECK_FAILED'
  | 'PLAN_FAILED'
  | 'SPLIT_FAILED'
  | 'DUMP_FAILED'
  | 'LOAD_FAILED'
  | 'LOAD_CONFLICT'
  | 'APPLY_FAILED'
  | 'APPLY_REJECTED'
  | 'DDL_UNSUPPORTED'
  | 'EVENT_FILTERED'
  | 'SHARD_DDL_CONFLICT'
  | 'TARGET_UNREACHABLE'
  | 'BINLOG_FAILED'
  | 'DUMP_FILE_MISSING'
  | 'REDIS_UNAVAILABLE'
  | 'API_UNREACHABLE'
  | 'UNAUTHORIZED'
  | 'INTERNAL';

export interface DmqErrorOptions {
  cause?: unknown;
  workaround?: string;
  /** Where it happened: a config field path, `schema`.`table`, a binlog position. */
  where?: string;
}

export class DmqError extends Error {
  readonly code: DmqErrorCode;
  readonly workaround: string | undefined;
  readonly where: string | undefined;

  constructor(code: DmqErrorCode, message: string, options: DmqErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
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

/** Rebuild a DmqError from its record, e.g. from a BullMQ job's failedReason. */
export function fromErrorRecord(record: ErrorRecord): DmqError {
  return new DmqError(record.code, record.message, {
    workaround: record.workaround,
    where: record.where,
    cause: record.cause,
  });
}
