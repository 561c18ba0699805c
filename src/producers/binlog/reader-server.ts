import type { Pool, RowDataPacket } from 'mysql2/promise';
import { parseGtidSet, type GtidFlavor, type GtidSet } from '../../shared/binlog/gtid-set.js';
import type { readSyncPositions } from '../../shared/checkpoint/lane-checkpoint.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readSourceSync } from '../../shared/checkpoint/sync-checkpoint.js';
import type { SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import type { ServiceContext } from '../../shared/task/context.js';
import type { SwitchedTable } from './batcher.js';
import { isSwitchOrigin, switchServer } from './server-switch.js';
import type { StartPosition } from './start-position.js';

/**
 * The server a binlog reader connects to, as its connect sequence asks about it: whether the
 * checkpoints may follow it there, the GTID sets the reader starts from, and what it has
 * executed (for status).
 */

export interface ReadServer {
  key: string;
  flavor: GtidFlavor;
}

/** The GTID set the source has executed (DM's masterBinlogGtid). */
export async function executedGtid(conn: Pool, flavor: GtidFlavor): Promise<string> {
  const [rows] = await conn.query<RowDataPacket[]>(
    flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos AS g' : 'SELECT @@GLOBAL.gtid_executed AS g',
  );
  return String(rows[0]?.g ?? '').replace(/\s+/g, '');
}

/** The tables whose rows stand at the switch origin, with the GTID sets of what they and their lanes applied. */
export function switchedTables(applied: Awaited<ReturnType<typeof readSyncPositions>>, flavor: GtidFlavor): Map<string, SwitchedTable> {
  const switched = new Map<string, SwitchedTable>();
  for (const [key, coord] of applied.tables) {
    const gtid = applied.gtids.get(key);
    if (!isSwitchOrigin(coord) || !gtid) continue;
    const lanes = (applied.switchedLanes.get(key) ?? []).map((l) => ({
      count: l.count,
      index: l.index,
      set: parseGtidSet(l.gtid, flavor),
    }));
    switched.set(key, { set: parseGtidSet(gtid, flavor), lanes });
  }
  return switched;
}

/**
 * The source may point to another server than the one the checkpoints were written on (an
 * `operate-source update`, a failover behind the same address): with GTIDs every checkpoint
 * row is rebased onto it (server-switch.ts); without, positions would be wrong, so the task
 * pauses. Says which server the checkpoints moved from, if they did.
 */
export async function followServer(
  ctx: ServiceContext,
  task: TaskConfig,
  source: SourceConfig,
  meta: MetaTables,
  here: ReadServer,
): Promise<{ from: string; gtid: string | null } | undefined> {
  const pool = ctx.pools.target(task);
  const global = (await readSourceSync(pool, meta, source.sourceId)).global;
  if (!global?.server || global.server === here.key) return undefined;
  const refuse = (why: string, workaround: string) =>
    new DmqError('CONFIG_INVALID', `source "${source.sourceId}" now reaches server ${here.key}, not ${global.server}: ${why}`, {
      where: `source "${source.sourceId}" from`,
      workaround,
    });
  if (!source.enableGtid)
    throw refuse(
      'without enable-gtid the checkpoints are binlog positions of the old server, which mean nothing on this one',
      'point the source back to the old server (dmq operate-source update); to switch servers, set enable-gtid: true in source.yaml and let the task sync once before switching',
    );
  const unit = (await ctx.registry.getState(task.name))?.sources[source.sourceId]?.unit;
  if (task.taskMode === 'full' || unit !== 'Sync')
    throw refuse(
      `the task is in its ${task.taskMode === 'full' ? 'full-mode replay' : `${unit ?? 'first'} unit`}, whose copy positions are the old server's`,
      'point the source back to the old server until query-status shows the Sync unit, then switch; or start the task again with --remove-meta',
    );
  await switchServer(pool, meta, { sourceId: source.sourceId, conn: ctx.pools.source(task, source), server: here }, global);
  return { from: global.server, gtid: global.gtid ?? null };
}

/** The GTID set of every transaction before `start`: the checkpoint's, or MariaDB's answer for a position. */
export async function gtidSetBefore(conn: Pool, start: StartPosition, flavor: GtidFlavor): Promise<GtidSet | undefined> {
  const text = start.gtid ?? start.gtidBefore;
  if (text !== undefined) return parseGtidSet(text, flavor);
  if (flavor !== 'mariadb' || !start.coord) return undefined;
  const [rows] = await conn.query<RowDataPacket[]>('SELECT BINLOG_GTID_POS(?, ?) AS g', [start.coord.file, start.coord.pos]);
  return rows[0]?.g === null || rows[0]?.g === undefined ? undefined : parseGtidSet(String(rows[0].g), flavor);
}
