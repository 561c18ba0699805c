/**
 * What happens to a failure wherever it is met, decided once per code (DM's `pkg/terror`
 * classes and `pkg/retry` in one place).
 * - `retry`: trying again may help. A job is retried with backoff and the task pauses when its
 *   attempts run out; a binlog reader restarts from its checkpoint.
 * - `operator`: only the operator can fix it. The task pauses at once and says what to do.
 * - `silent`: nothing to report; the work it belongs to is obsolete.
 */
export type ErrorClass = 'retry' | 'operator' | 'silent';

/** Every dmq error code, with what it means and its class. `DmqError` takes only these. */
export const ERROR_CODES = {
  /** A task, source or service setting is wrong or missing, or a server lacks a setting the task needs. */
  CONFIG_INVALID: 'operator',
  /** A task.yaml or source.yaml is not valid YAML. */
  CONFIG_YAML: 'operator',
  /** A task names a source that is not registered. */
  SOURCE_NOT_FOUND: 'operator',
  /** A source of that name is registered already, or a task still uses the source being removed. */
  SOURCE_EXISTS: 'operator',
  /** The task does not exist (any more): a job still queued for it is obsolete. */
  TASK_NOT_FOUND: 'silent',
  /** A task of that name exists already. */
  TASK_EXISTS: 'operator',
  /** A source or the target cannot be reached. */
  CONNECT_FAILED: 'retry',
  /** A source or the target refuses dmq's user. */
  ACCESS_DENIED: 'operator',
  /**
   * A TLS connection cannot be made as configured: the server's certificate is not trusted or
   * not for that host, or the server does not offer TLS, or it requires TLS and none is set.
   */
  TLS_FAILED: 'operator',
  /** A precheck item failed. */
  PRECHECK_FAILED: 'operator',
  /** The task cannot be planned: no table passes the filters, or a load-mode task finds no dump. */
  PLAN_FAILED: 'operator',
  /** A table's chunk boundaries could not be read from the source. */
  SPLIT_FAILED: 'retry',
  /** Reading a chunk from the source failed. */
  DUMP_FAILED: 'retry',
  /** Writing a chunk into the target failed. */
  LOAD_FAILED: 'retry',
  /** A copied row collides on a key with a row already on the target. */
  LOAD_CONFLICT: 'operator',
  /** Applying a binlog batch failed in a way a retry may fix. */
  APPLY_FAILED: 'retry',
  /**
   * A table waits for a batch that is in no queue (Redis lost its job): shown while the binlog
   * reader reads again to cut it again, and the reason the task pauses if that does not help.
   */
  APPLY_GAP: 'retry',
  /** The target refuses a binlog batch of rows itself; `binlog skip|replace` can step over it. */
  APPLY_REJECTED: 'operator',
  /** The target refuses a DDL itself; `binlog skip|replace` can step over it. */
  DDL_REJECTED: 'operator',
  /** The binlog reader cannot read a DDL, or the DDL moves a table into or out of the migrated ones. */
  DDL_UNSUPPORTED: 'operator',
  /** The target cannot hold a table as the source defines it (e.g. a spatial column on TiDB). */
  TARGET_UNSUPPORTED: 'operator',
  /**
   * The binlog carries no column names for a migrated table (binlog_row_metadata=MINIMAL), and the
   * schema tracker has no definition of it that fits the binlog's columns; `dmq binlog-schema update` sets one.
   */
  BINLOG_SCHEMA: 'operator',
  /** The schema tracker of a task's source holds no definition of that table (`binlog-schema`). */
  SCHEMA_NOT_TRACKED: 'operator',
  /** A binlog event filter rule with `action: Error` matched. */
  EVENT_FILTERED: 'operator',
  /** The source or the target refuses an expression filter's SQL (expression-filter in task.yaml). */
  EXPRESSION_FILTER_FAILED: 'operator',
  /** Shards of a merged table ran different DDLs (pessimistic shard mode). */
  SHARD_DDL_CONFLICT: 'operator',
  /** The target is away while changes wait to be applied; shown in status, cleared when it is back. */
  TARGET_UNREACHABLE: 'retry',
  /** A source's binlog cannot be read now; the reader restarts from its checkpoint. */
  BINLOG_FAILED: 'retry',
  /** A chunk file is not in the dump store the loading processor sees. */
  DUMP_FILE_MISSING: 'operator',
  /** A chunk's dump file key in the meta schema is not one dmq made for that chunk (the row was changed). */
  DUMP_KEY_INVALID: 'operator',
  /** A `dmq diff` of the task is running already; its report is the one to follow. */
  DIFF_RUNNING: 'operator',
  /** The task has no `dmq diff` report yet. */
  DIFF_NOT_FOUND: 'operator',
  /** dmq cannot reach Redis. */
  REDIS_UNAVAILABLE: 'retry',
  /** The CLI cannot reach `dmq serve`. */
  API_UNREACHABLE: 'retry',
  /** An API request lacks the right token. */
  UNAUTHORIZED: 'operator',
  /**
   * An API request is refused whatever its token: the read-only token on a change, or a Host
   * or Origin that is not dmq's (what a web page in a visitor's browser would send).
   */
  FORBIDDEN: 'operator',
  /** A change sent with a body type any web page can send (text/plain, forms), or a bare POST. */
  MEDIA_TYPE_REFUSED: 'operator',
  /** More changes wait for the continuous validator than its max-pending-row-count or -size allow: it stopped. */
  VALIDATION_PENDING_LIMIT: 'operator',
  /** dmq found itself in a state it should never be in: a bug to report. */
  INTERNAL: 'retry',
} as const satisfies Record<string, ErrorClass>;

export type DmqErrorCode = keyof typeof ERROR_CODES;
