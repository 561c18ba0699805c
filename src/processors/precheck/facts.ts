import type { Connection } from 'mysql2/promise';
import type { InstanceConfig, TableRef } from '../../shared/config/types.js';
import {
  readBinlogFilters,
  readSessionGrants,
  readSessionVariableNames,
  readStatusNumber,
  readVariables,
  serverVersion,
  type BinlogFilters,
  type ServerVersion,
  type SessionGrants,
} from './server.js';
import { migratedTables } from '../../shared/filter/migrated-tables.js';
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
  tables(): Promise<TableRef[]>;
  tableFacts(): Promise<TableFacts[]>;
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
];

export function serverFacts(conn: Connection): ServerFacts {
  const variables = once(() => readVariables(conn, VARIABLES));
  const version = once(async () => serverVersion(await variables()));
  return {
    variables,
    version,
    grants: once(async () => readSessionGrants(conn, (await version()).flavor)),
    threadsConnected: once(() => readStatusNumber(conn, 'Threads_connected')),
    sessionVariables: (names) => readSessionVariableNames(conn, names),
  };
}

export function sourceFacts(conn: Connection, instance: InstanceConfig, caseSensitive: boolean): SourceFacts {
  const tables = once(() => migratedTables(conn, instance, caseSensitive));
  return {
    ...serverFacts(conn),
    binlogFilters: once(() => readBinlogFilters(conn)),
    tables,
    tableFacts: once(async () => readTableFacts(conn, await tables())),
  };
}
