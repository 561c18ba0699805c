import { createHash } from 'node:crypto';
import ZongJi from '@vlasky/zongji';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { SourceConfig } from '../../shared/config/types.js';
import { driverEndpoint } from '../../shared/sql/connect.js';
import type { StartPosition } from './start-position.js';

const HEARTBEAT_SECONDS = 1;

/** A decoded binlog event as zongji emits it; the other fields depend on its name. */
export type BinlogEvent = Record<string, unknown> & { getEventName(): string; nextPosition: number; timestamp: number; gtid?: string };

/**
 * A replica server id for this (task, source): stable, and far from ids real servers use. The
 * hashed input never changes, so every release picks the same id for the same reader.
 */
export function readerServerId(task: string, sourceId: string): number {
  const hash = createHash('sha256').update(`${task}\u0000${sourceId}`).digest().readUInt32BE(0);
  return 0x40000000 + (hash % 0x3fffffff);
}

/** Tables whose read-or-skip verdict a stream remembers. */
const MAX_VERDICTS = 10_000;

/** A tablemap event as zongji hands it to `_fetchTableInfo`. */
export interface TableMapEvent {
  tableId: number;
  schemaName: string;
  tableName: string;
  columnCount: number;
  columnTypes: number[];
  columnNames?: string[];
}

/** How the reader decodes tables: which it reads at all, and the columns of a table the binlog does not describe. */
export interface TableHooks {
  reads(schema: string, table: string): boolean;
  /** information_schema.COLUMNS-shaped rows for the table, or the error that stops the reader; undefined: let zongji ask the source. */
  columns(ev: TableMapEvent): Record<string, unknown>[] | Error | undefined;
}

type FetchTableInfo = (ev: TableMapEvent, next: () => void) => void;

/**
 * A replication client for the source; it reads nothing until `startBinlogStream`. zongji hands
 * these options to mysql2 for both its connections, so they use the source's TLS as every other
 * connection does.
 *
 * With `tables`, zongji skips the tables the reader does not read, and takes the columns of a
 * table whose tablemap carries no names (binlog_row_metadata=MINIMAL, MySQL 5.7, MariaDB's
 * ambiguous temporal columns) from the reader's schema tracker. Left alone it would ask the
 * source's information_schema, which describes the table as it is now, not as it was when the
 * row was logged: wrong after any later ALTER.
 */
export function createBinlogStream(source: SourceConfig, tables?: TableHooks): ZongJi {
  const z = new ZongJi({ ...driverEndpoint(source.from), dateStrings: true, timezone: 'Z', jsonStrings: true } as never);
  if (!tables) return z;
  const internals = z as unknown as {
    _skipSchema(schema: string, table: string): boolean;
    _fetchTableInfo: FetchTableInfo;
    tableMap: Record<number, unknown>;
  };
  const ask = internals._fetchTableInfo.bind(z);
  // Asked at every tablemap event, that is for every table of every transaction; the answer only
  // depends on the names, and matching the rules' patterns costs more than the rest of the event.
  const verdicts = new Map<string, boolean>();
  internals._skipSchema = (schema, table) => {
    const name = `${schema}\u0000${table}`;
    let reads = verdicts.get(name);
    if (reads === undefined) {
      // Names are bounded by the source's tables, but temporary tables come and go.
      if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
      reads = tables.reads(schema, table);
      verdicts.set(name, reads);
    }
    return !reads;
  };
  internals._fetchTableInfo = (ev, next) => {
    const columns = tables.columns(ev);
    if (columns === undefined) return ask(ev, next);
    // The binlog connection stays paused: nothing more is decoded before the reader restarts.
    if (columns instanceof Error) return void z.emit('error', columns);
    internals.tableMap[ev.tableId] = { columnSchemas: columns, parentSchema: ev.schemaName, tableName: ev.tableName };
    next();
  };
  return z;
}

/** Forgets the columns zongji cached per table id: after a DDL, a table's next tablemap is described afresh. */
export function forgetTableColumns(z: ZongJi): void {
  const cache = z.tableMap as Record<number, unknown>;
  for (const id of Object.keys(cache)) delete cache[Number(id)];
}

/** Asks the source for its binlog from `start`, as replica `serverId`; only `events` are decoded, when given. */
export function startBinlogStream(z: ZongJi, serverId: number, start: StartPosition, events?: string[]): void {
  const options: Record<string, unknown> = { serverId };
  if (events) options.includeEvents = events;
  if (start.gtid !== undefined) options.gtidSet = start.gtid;
  else {
    options.filename = start.coord!.file;
    options.position = start.coord!.pos;
  }
  z.start(options);
  // Queued before the dump request: a heartbeat every second shows a live but idle source,
  // and a long write timeout survives dmq pausing the stream for back-pressure.
  z.connection?.query(`SET @master_heartbeat_period = ${HEARTBEAT_SECONDS * 1e9}`);
  z.connection?.query('SET SESSION net_write_timeout = 86400');
}

/** Stops the stream: resolves once it has stopped, or after 3 s. */
export async function stopBinlogStream(z: ZongJi): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3000);
    z.once('stopped', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      z.stop();
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** Source clock minus this process's clock (ms), so lag is measured on the source's clock. */
export async function sourceClockOffset(source: Pool): Promise<number> {
  const before = Date.now();
  const [rows] = await source.query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS t');
  const after = Date.now();
  return Math.round(Number(rows[0]!.t) - (before + after) / 2);
}
