import type { DdlWait } from '../../shared/binlog/batch.js';
import { compareCoords, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { readLanePosition } from '../../shared/checkpoint/lane-checkpoint.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readTableCheckpoint } from '../../shared/checkpoint/sync-checkpoint.js';
import type { Queryable } from '../../shared/sql/connect.js';

/** A wait not met yet: where its stream (a table's chain or one of its lanes) stands now. */
export interface StreamBehind {
  wait: DdlWait;
  at: BinlogCoord | undefined;
}

export const waitLabel = (w: DdlWait) =>
  `${w.schema}.${w.table}${w.lane ? ` lane ${w.lane.index}/${w.lane.count}` : ''} to reach ${w.coord}`;

/**
 * The waits of a DDL or a join whose streams have not applied up to where it needs them. Plain
 * reads: a stream that moves meanwhile only moves forward, so a wait read as met stays met.
 */
export async function streamsBehind(db: Queryable, meta: MetaTables, sourceId: string, waits: DdlWait[]): Promise<StreamBehind[]> {
  const behind: StreamBehind[] = [];
  for (const wait of waits) {
    const ref = { sourceId, schema: wait.schema, table: wait.table };
    const at = wait.lane ? await readLanePosition(db, meta, ref, wait.lane) : await readTableCheckpoint(db, meta, ref);
    if (!at || compareCoords(at, parseCoordText(wait.coord)) < 0) behind.push({ wait, at });
  }
  return behind;
}
