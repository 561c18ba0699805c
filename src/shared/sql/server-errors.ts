/**
 * The server error numbers dmq reacts to, and the groups that decide what it does with them.
 * Numbers, not mysql2's `code` names: mysql2 names only MySQL's numbers, so TiDB's own (8xxx,
 * 9xxx) and MariaDB's (1900 and up) arrive with `errno` alone, and above that range MySQL and
 * MariaDB give one number different meanings (4031), so a name can be wrong.
 */
export const ER = {
  // MySQL's, the same in MariaDB and TiDB.
  DB_CREATE_EXISTS: 1007,
  DB_DROP_EXISTS: 1008,
  CON_COUNT_ERROR: 1040,
  DBACCESS_DENIED_ERROR: 1044,
  ACCESS_DENIED_ERROR: 1045,
  BAD_DB_ERROR: 1049,
  TABLE_EXISTS_ERROR: 1050,
  BAD_TABLE_ERROR: 1051,
  SERVER_SHUTDOWN: 1053,
  BAD_FIELD_ERROR: 1054,
  DUP_FIELDNAME: 1060,
  DUP_KEYNAME: 1061,
  DUP_ENTRY: 1062,
  PARSE_ERROR: 1064,
  MULTIPLE_PRI_KEY: 1068,
  CANT_DROP_FIELD_OR_KEY: 1091,
  /** TiDB sends it for passing hiccups and for refusals alike, so it is in no group: a job retries it until its attempts run out. */
  UNKNOWN_ERROR: 1105,
  WRONG_VALUE_COUNT_ON_ROW: 1136,
  NO_SUCH_TABLE: 1146,
  LOCK_WAIT_TIMEOUT: 1205,
  LOCK_DEADLOCK: 1213,
  SPECIFIC_ACCESS_DENIED_ERROR: 1227,
  /** The binlog position asked for was purged or never existed (ER_MASTER_… in MariaDB and MySQL before 8.0.23). */
  SOURCE_FATAL_ERROR_READING_BINLOG: 1236,
  TRUNCATED_WRONG_VALUE_FOR_FIELD: 1366,
  DATA_TOO_LONG: 1406,
  ROW_IS_REFERENCED_2: 1451,
  NO_REFERENCED_ROW_2: 1452,
  // MariaDB's.
  CONNECTION_KILLED: 1927,
  // MySQL's (Aurora's too): require_secure_transport refuses a plain connection. MariaDB
  // answers ACCESS_DENIED_ERROR instead.
  SECURE_TRANSPORT_REQUIRED: 3159,
  // The C client's numbers for a lost connection: mysql2 reports its own with driver codes
  // (see isUnreachable), but an error relayed from a C client carries them.
  SERVER_GONE_ERROR: 2006,
  SERVER_LOST: 2013,
  // TiDB's (pkg/errno in pingcap/tidb).
  FOR_UPDATE_CANT_RETRY: 8002,
  TXN_TOO_LARGE: 8004,
  WRITE_CONFLICT_IN_TIDB: 8005,
  TXN_RETRYABLE: 8022,
  ENTRY_TOO_LARGE: 8025,
  INFO_SCHEMA_EXPIRED: 8027,
  INFO_SCHEMA_CHANGED: 8028,
  PD_SERVER_TIMEOUT: 9001,
  TIKV_SERVER_TIMEOUT: 9002,
  TIKV_SERVER_BUSY: 9003,
  RESOLVE_LOCK_TIMEOUT: 9004,
  REGION_UNAVAILABLE: 9005,
  GC_TOO_EARLY: 9006,
  WRITE_CONFLICT: 9007,
} as const;

/** The connection is gone or the server is going away: nothing is wrong with the work, which waits and reconnects. */
export const UNREACHABLE: ReadonlySet<number> = new Set([
  ER.CON_COUNT_ERROR,
  ER.SERVER_SHUTDOWN,
  ER.CONNECTION_KILLED,
  ER.SERVER_GONE_ERROR,
  ER.SERVER_LOST,
]);

/** The server refuses the user: a wrong password, or no right to the schema asked for. */
export const ACCESS_DENIED: ReadonlySet<number> = new Set([ER.DBACCESS_DENIED_ERROR, ER.ACCESS_DENIED_ERROR]);

/**
 * The transaction lost a race or met a passing storage fault and was rolled back: running it
 * again may succeed. GC_TOO_EARLY is here because only a transaction that outlived
 * tidb_gc_life_time meets it, and a new one starts above the GC safe point.
 */
export const TRANSIENT: ReadonlySet<number> = new Set([
  ER.LOCK_WAIT_TIMEOUT,
  ER.LOCK_DEADLOCK,
  ER.FOR_UPDATE_CANT_RETRY,
  ER.WRITE_CONFLICT_IN_TIDB,
  ER.TXN_RETRYABLE,
  ER.INFO_SCHEMA_EXPIRED,
  ER.INFO_SCHEMA_CHANGED,
  ER.PD_SERVER_TIMEOUT,
  ER.TIKV_SERVER_TIMEOUT,
  ER.TIKV_SERVER_BUSY,
  ER.RESOLVE_LOCK_TIMEOUT,
  ER.REGION_UNAVAILABLE,
  ER.GC_TOO_EARLY,
  ER.WRITE_CONFLICT,
]);

/**
 * The transaction lost a race for a lock with another one and was rolled back (or its statement
 * gave up waiting): nothing is wrong with the work, which runs again after a moment. A subset of
 * TRANSIENT.
 */
export const LOCK_CONFLICT: ReadonlySet<number> = new Set([
  ER.LOCK_WAIT_TIMEOUT,
  ER.LOCK_DEADLOCK,
  ER.FOR_UPDATE_CANT_RETRY,
  ER.WRITE_CONFLICT_IN_TIDB,
  ER.TXN_RETRYABLE,
  ER.WRITE_CONFLICT,
]);

/**
 * The statement itself is refused: the target holds something the change cannot go into, or
 * the change is too big for TiDB's limits, so the same statement meets the same answer again.
 */
export const REJECTED: ReadonlySet<number> = new Set([
  ER.DUP_ENTRY,
  ER.NO_SUCH_TABLE,
  ER.BAD_FIELD_ERROR,
  ER.PARSE_ERROR,
  ER.NO_REFERENCED_ROW_2,
  ER.ROW_IS_REFERENCED_2,
  ER.DATA_TOO_LONG,
  ER.WRONG_VALUE_COUNT_ON_ROW,
  ER.TRUNCATED_WRONG_VALUE_FOR_FIELD,
  ER.TXN_TOO_LARGE,
  ER.ENTRY_TOO_LARGE,
]);

/**
 * What a DDL that already ran reports when it runs again: the change it makes is there. Taken
 * as "done" only where a DDL may have run before (see applyDdlUnit).
 */
export const ALREADY_DONE: ReadonlySet<number> = new Set([
  ER.DUP_FIELDNAME,
  ER.DUP_KEYNAME,
  ER.CANT_DROP_FIELD_OR_KEY,
  ER.TABLE_EXISTS_ERROR,
  ER.BAD_TABLE_ERROR,
  ER.DB_CREATE_EXISTS,
  ER.DB_DROP_EXISTS,
  ER.NO_SUCH_TABLE,
  ER.BAD_FIELD_ERROR,
  ER.MULTIPLE_PRI_KEY,
]);

/** The error number the server sent, or undefined when the driver, the network or dmq raised `err`. */
export function serverErrno(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null | undefined)?.errno;
  // Node's own errors (ECONNRESET, ...) carry negative errno values.
  return typeof errno === 'number' && errno > 0 ? errno : undefined;
}

/** Whether the server answered with one of `numbers`. */
export function isServerError(err: unknown, numbers: ReadonlySet<number>): boolean {
  const errno = serverErrno(err);
  return errno !== undefined && numbers.has(errno);
}
