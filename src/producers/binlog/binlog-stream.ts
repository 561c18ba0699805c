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

/**
 * A replication client for the source; it reads nothing until `startBinlogStream`. zongji hands
 * these options to mysql2 for both its connections, so they use the source's TLS as every other
 * connection does.
 */
export function createBinlogStream(source: SourceConfig): ZongJi {
  return new ZongJi({ ...driverEndpoint(source.from), dateStrings: true, timezone: 'Z', jsonStrings: true } as never);
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
