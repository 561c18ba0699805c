import type { Connection } from 'mysql2/promise';
import type { InstanceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { parseAuroraRelease, type RetentionFacts } from './retention.js';
import {
  readAuroraVersion,
  readBinlogFilters,
  readDataBytes,
  readRdsRetention,
  readSessionGrants,
  readSessionVariableNames,
  readStatusNumber,
  readVariables,
  serverVersion,
  type BinlogFilters,
  type ServerVersion,
  type SessionGrants,
} from './server.js';
import { instanceTableFilter, migratedTables } from '../../shared/filter/migrated-tables.js';
import { onlineDdlRules } from '../../shared/filter/online-ddl.js';
import { listTables } from '../../shared/sql/catalog.js';
import { readTableFacts, type TableFacts } from './tables.js';

/**
 * What the checks ask of one server, each read at most once: several checks share a read, and one
 * read failing fails only the checks that need it.
 */
export interface ServerFacts {
  variables(): Promise<Map<string, string>>;
  version(): Promise<ServerVersion>;
  grants(): Promise<SessionGrants>;
  threadsConnected(): Promise<number | undefined>;
  /** Which of `names` this server knows as session variables. */
  sessionVariables(names: string[]): Promise<Set<string>>;
}

export interface SourceFacts extends ServerFacts {
  binlogFilters(): Promise<BinlogFilters>;
  /** How long the source keeps its binlogs. */
  retention(): Promise<RetentionFacts>;
  /** Bytes of row data in the migrated tables. */
  dataBytes(): Promise<number>;
  tables(): Promise<TableRef[]>;
  tableFacts(): Promise<TableFacts[]>;
  /** With `online-ddl`: the gh-ost/pt-osc shadow tables of migrated tables that exist now. */
  shadowTables(): Promise<{ shadow: TableRef; real: TableRef }[]>;
}

function once<T>(read: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= read());
}

const VARIABLES = [
  'version',
  'aurora_version',
  'server_id',
  'log_bin',
  'binlog_format',
  'binlog_row_image',
  'binlog_row_metadata',
  'max_connections',
  'max_user_connections',
  'expire_logs_days',
  'binlog_expire_logs_seconds',
];

export function serverFacts(conn: Connection): ServerFacts {
  const variables = once(() => readVariables(conn, VARIABLES));
  const version = once(async () => {
    const vars = await variables();
    return serverVersion(vars, vars.has('aurora_version') ? undefined : await readAuroraVersion(conn));
  });
  return {
    variables,
    version,
    grants: once(async () => readSessionGrants(conn, (await version()).flavor)),
    threadsConnected: once(() => readStatusNumber(conn, 'Threads_connected')),
    sessionVariables: (names) => readSessionVariableNames(conn, names),
  };
}

export function sourceFacts(conn: Connection, task: TaskConfig, instance: InstanceConfig): SourceFacts {
  const tables = once(() => migratedTables(conn, task, instance));
  const server = serverFacts(conn);
  return {
    ...server,
    binlogFilters: once(() => readBinlogFilters(conn)),
    retention: once(() => readRetention(conn, server)),
    dataBytes: once(async () => readDataBytes(conn, await tables())),
    tables,
    tableFacts: once(async () => readTableFacts(conn, await tables())),
    shadowTables: once(async () => {
      const rules = onlineDdlRules(task);
      if (!rules) return [];
      const filter = instanceTableFilter(task, instance);
      return (await listTables(conn)).flatMap((shadow) => {
        const role = rules.roleOf(shadow);
        return role.role === 'shadow' && filter.table(role.real.schema, role.real.table) ? [{ shadow, real: role.real }] : [];
      });
    }),
  };
}

/** The facts at the edge; what they mean is `retentionFinding`'s. */
async function readRetention(conn: Connection, server: ServerFacts): Promise<RetentionFacts> {
  const variables = await server.variables();
  const version = await server.version();
  const aurora = version.aurora === undefined ? undefined : parseAuroraRelease(version.aurora);
  const facts: RetentionFacts = {};
  if (aurora) facts.aurora = aurora;
  const rds = await readRdsRetention(conn, version.flavor === 'aurora');
  if (rds) facts.rds = rds;
  const days = variables.get('expire_logs_days');
  if (days !== undefined) facts.expireLogsDays = Number(days);
  const seconds = variables.get('binlog_expire_logs_seconds');
  if (seconds !== undefined) facts.binlogExpireLogsSeconds = Number(seconds);
  return facts;
}
