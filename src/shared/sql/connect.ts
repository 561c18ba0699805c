import mysql from 'mysql2/promise';
import type { Connection, Pool, PoolConnection, PoolOptions } from 'mysql2/promise';
import { targetSessionProblems } from '../config/session.js';
import type { DbEndpoint } from '../config/types.js';
import { DmqError } from '../errors.js';
import { ACCESS_DENIED, UNREACHABLE, isServerError } from './server-errors.js';
import { driverTls, SECURITY_FIELD, tlsFailure, type EndpointRole } from './tls.js';

/** Anything that runs a query: a connection, a pooled connection or a pool. */
export type Queryable = Connection | PoolConnection | Pool;

/**
 * Both ends of a task run in one zone (the task's `timezone`, else UTC) so TIMESTAMP values
 * travel as the same wall-clock text they are stored as, whatever the servers' own zones are.
 */
export const DEFAULT_TIME_ZONE = '+00:00';

export interface ConnectOptions {
  /** Who this endpoint is, for messages: `source "mysql-replica-01"` or `target`. */
  label: string;
  /** Which config block the endpoint comes from, for messages that name a field to change. */
  role: EndpointRole;
  /** Extra session variables, applied after dmq's own. */
  session?: Record<string, string | number>;
  /** Schema to USE, if any. */
  database?: string;
  /** Allow several statements per query (the applier sends a batch as one script). */
  multipleStatements?: boolean;
  /** The task's `timezone`; UTC when unset. */
  timeZone?: string | undefined;
}

/** Where and as whom mysql2 connects, TLS included: the binlog client takes the same. */
export function driverEndpoint(endpoint: DbEndpoint) {
  return { host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, ssl: driverTls(endpoint) };
}

function baseOptions(endpoint: DbEndpoint, options: ConnectOptions): PoolOptions {
  return {
    ...driverEndpoint(endpoint),
    database: options.database,
    charset: 'UTF8MB4_GENERAL_CI',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    decimalNumbers: false,
    connectTimeout: 10_000,
    multipleStatements: options.multipleStatements ?? false,
    queryFormat: formatOnlyWithValues,
  };
}

/**
 * mysql2 scans every statement for `?` even when it has no values; a load statement is a
 * megabyte of row literals, and that scan cost as much as building it. Statements without
 * values are sent as they are.
 */
export function formatOnlyWithValues(sql: string, values: unknown, timezone?: string): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as Parameters<typeof mysql.format>[1], false, timezone as never);
}

/**
 * Only TiDB runs `/*T! ... *\/`; MySQL and MariaDB read a comment. On TiDB every dmq transaction
 * is pessimistic, whatever the cluster's default: the applier's SELECT … FOR UPDATE on a table's
 * checkpoint row must lock it (an optimistic transaction takes no lock until commit, so two
 * deliveries of one batch could both apply it), and READ COMMITTED exists only there.
 */
const TIDB_PESSIMISTIC = "/*T! , tidb_txn_mode = 'pessimistic' */";

function sessionStatements(options: ConnectOptions): string[] {
  const session = options.session ?? {};
  // Checked when the task is submitted; checked again here for configs stored before a rule existed.
  const problems = targetSessionProblems(session, 'session');
  if (problems.length > 0) {
    throw new DmqError('CONFIG_INVALID', `${options.label}: ${problems.join('; ')}`, {
      where: `${options.label} session`,
      workaround: 'fix target-database.session as said, then submit the task again (stop-task, start-task)',
    });
  }
  // sql_mode first: the values of the statements after it are escaped as it says, not as the
  // server's global sql_mode would.
  const entries = Object.entries(session);
  const isMode = ([name]: [string, unknown]) => name.toLowerCase() === 'sql_mode';
  const set = ([name, value]: [string, string | number]) => `SET SESSION ${name} = ${mysql.escape(value)}`;
  return [
    ...entries.filter(isMode).map(set),
    `SET time_zone = ${mysql.escape(options.timeZone ?? DEFAULT_TIME_ZONE)} ${TIDB_PESSIMISTIC}`,
    ...entries.filter((entry) => !isMode(entry)).map(set),
  ];
}

export function describeConnectError(err: unknown, endpoint: DbEndpoint, options: ConnectOptions): DmqError {
  const { label, role } = options;
  const tls = tlsFailure(err, endpoint, label, role);
  if (tls) return tls;
  const code = (err as { code?: string }).code;
  const where = `${label} at ${endpoint.host}:${endpoint.port}`;
  if (isServerError(err, ACCESS_DENIED)) {
    // MariaDB refuses a plain connection to a server or user that requires TLS with this same answer.
    const plain = endpoint.security
      ? ''
      : `; if the server accepts only TLS connections (require_secure_transport, or a user created REQUIRE SSL), set ${SECURITY_FIELD[role]} (ssl-ca, or ssl-required: true)`;
    return new DmqError('ACCESS_DENIED', `${where}: access denied for user ${JSON.stringify(endpoint.user)}`, {
      cause: err,
      where,
      workaround: `check user and password (plain or encrypted with \`dmq encrypt\`) and that the user may connect from this host${plain}`,
    });
  }
  return new DmqError('CONNECT_FAILED', `${where}: cannot connect (${code ?? (err as Error).message})`, {
    cause: err,
    where,
    workaround: 'check that the server is running and that host and port are right and reachable from dmq',
  });
}

export async function openConnection(endpoint: DbEndpoint, options: ConnectOptions): Promise<Connection> {
  const statements = sessionStatements(options);
  let conn: Connection;
  try {
    conn = await mysql.createConnection(baseOptions(endpoint, options));
  } catch (err) {
    throw describeConnectError(err, endpoint, options);
  }
  try {
    for (const statement of statements) await conn.query(statement);
  } catch (err) {
    conn.destroy();
    throw new DmqError('CONFIG_INVALID', `${options.label}: cannot set session variables: ${(err as Error).message}`, {
      cause: err,
      where: `${options.label} session`,
      workaround: 'remove or fix the variable in target-database.session',
    });
  }
  return conn;
}

export function openPool(endpoint: DbEndpoint, options: ConnectOptions & { size: number }): Pool {
  const statements = sessionStatements(options);
  const pool = mysql.createPool({
    ...baseOptions(endpoint, options),
    connectionLimit: options.size,
    maxIdle: options.size,
    idleTimeout: 60_000,
    enableKeepAlive: true,
  });
  // Queries on a connection run in order, so these land before the first query of a borrower.
  pool.pool.on('connection', (conn) => {
    for (const statement of statements) conn.query(statement);
  });
  return pool;
}

/** Run `fn` with a fresh connection, closed afterwards whatever happens. */
export async function withConnection<T>(endpoint: DbEndpoint, options: ConnectOptions, fn: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await openConnection(endpoint, options);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Driver and network codes that mean the server cannot be reached now; the server's own are UNREACHABLE. */
const DRIVER_UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

/**
 * The error in `err`, or among the errors it wraps, that says its server cannot be reached now.
 * A dump or load wraps the driver's error in its own, so the cause chain is searched.
 */
export function unreachableCause(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if ((typeof code === 'string' && DRIVER_UNREACHABLE.has(code)) || isServerError(e, UNREACHABLE)) return e;
  }
  return undefined;
}

export function isUnreachable(err: unknown): boolean {
  return unreachableCause(err) !== undefined;
}
