import type { Pool, RowDataPacket } from 'mysql2/promise';
import { formatGtidSet, isEmptyGtidSet, parseGtidSet, subtractGtidSets, type GtidFlavor } from '../../shared/binlog/gtid-set.js';
import { compareCoords, coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { metaName, type MetaTables } from '../../shared/checkpoint/meta-schema.js';
import type { GlobalCheckpoint } from '../../shared/checkpoint/sync-checkpoint.js';
import { DmqError } from '../../shared/errors.js';
import { readBinlogPosition } from '../../shared/sql/binlog-status.js';
import type { Queryable } from '../../shared/sql/connect.js';

/**
 * A switch of server under a running task (a failover, a Blue/Green switchover, a replica taking
 * over, `operate-source update`): binlog coordinates are one server's, so every checkpoint row
 * of the source is rebased. Each row keeps the GTID set of what its chain applied and moves to
 * the switch origin, before any coordinate of any server; the global row keeps the set the reader
 * resumes from. The reader then starts from that set on the new server, and until a chain applies
 * again, its set decides which of the transactions read are already on the target (batcher.ts).
 */

/** The coordinate every row of a switched source stands at until its chain applies on the new server. */
export const SWITCH_ORIGIN: BinlogCoord = { file: '', pos: 0 };

export const isSwitchOrigin = (coord: BinlogCoord) => coord.file === '' && coord.pos === 0;

/**
 * Which server a connection reaches: MySQL's server_uuid, MariaDB's server_id (unique within a
 * replication topology, which is where a switch may go).
 */
export async function serverIdentity(conn: Queryable): Promise<{ key: string; flavor: GtidFlavor }> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v, @@server_id AS id');
  if (/mariadb/i.test(String(rows[0]?.v))) return { key: `mariadb:${String(rows[0]?.id)}`, flavor: 'mariadb' };
  const [uuid] = await conn.query<RowDataPacket[]>('SELECT @@server_uuid AS u');
  return { key: `mysql:${String(uuid[0]?.u)}`, flavor: 'mysql' };
}

interface ChainRow {
  schema: string;
  table: string;
  lane?: { count: number; index: number };
  coord: BinlogCoord;
  gtid: string | null;
}

const chainLabel = (r: ChainRow) => `\`${r.schema}\`.\`${r.table}\`${r.lane ? ` lane ${r.lane.index + 1}/${r.lane.count}` : ''}`;

/**
 * Each chain's GTID set at the switch (pure). A row without one stands at or before the global
 * checkpoint (it applied nothing the global set lacks), or it cannot be placed on another server.
 */
export function chainSetsAtSwitch(global: GlobalCheckpoint & { gtid: string }, rows: ChainRow[], sourceId: string): string[] {
  return rows.map((r) => {
    if (r.gtid !== null) return r.gtid;
    if (isSwitchOrigin(r.coord) || compareCoords(r.coord, global.coord) <= 0) return global.gtid;
    throw new DmqError(
      'CONFIG_INVALID',
      `source "${sourceId}" points to another server, but the checkpoint of ${chainLabel(r)} at ${coordText(r.coord)} has no GTID set to find its place there`,
      {
        where: 'enable-gtid',
        workaround:
          'point the source back to the old server (dmq operate-source update) until query-status shows a syncerBinlogGtid, then switch; or start the task again with --remove-meta',
      },
    );
  });
}

/** The transactions the target holds that the new server lacks (empty text: none). */
export function missingOnServer(sets: string[], executed: string, flavor: GtidFlavor): string {
  const has = parseGtidSet(executed, flavor);
  const missing = sets.map((s) => subtractGtidSets(parseGtidSet(s, flavor), has)).find((m) => !isEmptyGtidSet(m));
  return missing ? formatGtidSet(missing) : '';
}

/**
 * Rebases every checkpoint row of the source onto the new server `server`, in one target
 * transaction: refuses when the new server lacks a transaction the target holds (a replica
 * behind, or one that diverged), since its binlog could not continue from there.
 */
export async function switchServer(
  target: Pool,
  meta: MetaTables,
  source: { sourceId: string; conn: Queryable; server: { key: string; flavor: GtidFlavor } },
  global: GlobalCheckpoint,
): Promise<void> {
  const { sourceId } = source;
  if (global.gtid === null) {
    throw new DmqError(
      'CONFIG_INVALID',
      `source "${sourceId}" points to another server (${source.server.key}, was ${global.server}), but its checkpoint has no GTID set: binlog positions of one server mean nothing on another`,
      {
        where: 'enable-gtid',
        workaround:
          'set enable-gtid: true and point the source back to the old server (dmq operate-source update) until query-status shows a syncerBinlogGtid, then switch; or start the task again with --remove-meta and a meta position on the new server',
      },
    );
  }
  const conn = await target.getConnection();
  try {
    await conn.query('START TRANSACTION');
    const [tableRows] = await conn.query<RowDataPacket[]>(
      `SELECT schema_name, table_name, binlog_name, binlog_pos, binlog_part, binlog_gtid FROM ${metaName(meta, 'syncer')} WHERE source_id = ? AND is_global = 0 FOR UPDATE`,
      [sourceId],
    );
    const [laneRows] = await conn.query<RowDataPacket[]>(
      `SELECT schema_name, table_name, lane_count, lane, binlog_name, binlog_pos, binlog_part, binlog_gtid FROM ${metaName(meta, 'lanes')} WHERE source_id = ? FOR UPDATE`,
      [sourceId],
    );
    const toRow = (r: RowDataPacket): ChainRow => ({
      schema: String(r.schema_name),
      table: String(r.table_name),
      ...(r.lane_count === undefined ? {} : { lane: { count: Number(r.lane_count), index: Number(r.lane) } }),
      coord: {
        file: String(r.binlog_name),
        pos: Number(r.binlog_pos),
        ...(Number(r.binlog_part) > 0 ? { part: Number(r.binlog_part) } : {}),
      },
      gtid: r.binlog_gtid === null || r.binlog_gtid === '' ? null : String(r.binlog_gtid),
    });
    // A lane row that never applied stands where its table does: it stays empty.
    const rows = [...tableRows.map(toRow), ...laneRows.map(toRow).filter((r) => !(r.coord.file === '' && r.gtid === null))];
    const sets = chainSetsAtSwitch({ ...global, gtid: global.gtid }, rows, sourceId);
    const executed = (await readBinlogPosition(source.conn))?.gtid ?? '';
    const missing = missingOnServer([global.gtid, ...sets], executed, source.server.flavor);
    if (missing !== '') {
      throw new DmqError(
        'BINLOG_FAILED',
        `source "${sourceId}" now points to server ${source.server.key}, which lacks transactions the target already holds (${missing}): it is behind the old server, or diverged from it`,
        {
          where: 'from',
          workaround:
            'wait until the new server has replicated them (dmq retries by itself), or point the source back to the old server with dmq operate-source update',
        },
      );
    }
    for (const [i, r] of rows.entries()) {
      if (r.lane)
        await conn.query(
          `UPDATE ${metaName(meta, 'lanes')} SET binlog_name = ?, binlog_pos = ?, binlog_part = 0, binlog_gtid = ?, updated_at = NOW(3)
           WHERE source_id = ? AND schema_name = ? AND table_name = ? AND lane_count = ? AND lane = ?`,
          [SWITCH_ORIGIN.file, SWITCH_ORIGIN.pos, sets[i], sourceId, r.schema, r.table, r.lane.count, r.lane.index],
        );
      else
        await conn.query(
          `UPDATE ${metaName(meta, 'syncer')} SET binlog_name = ?, binlog_pos = ?, binlog_part = 0, binlog_gtid = ?, updated_at = NOW(3)
           WHERE source_id = ? AND schema_name = ? AND table_name = ?`,
          [SWITCH_ORIGIN.file, SWITCH_ORIGIN.pos, sets[i], sourceId, r.schema, r.table],
        );
    }
    await conn.query(
      `UPDATE ${metaName(meta, 'syncer')} SET binlog_name = ?, binlog_pos = ?, binlog_part = 0, binlog_server = ?, updated_at = NOW(3)
       WHERE source_id = ? AND is_global = 1`,
      [SWITCH_ORIGIN.file, SWITCH_ORIGIN.pos, source.server.key, sourceId],
    );
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    conn.release();
  }
}
