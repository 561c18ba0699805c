import type { Pool } from 'mysql2/promise';
import { compareCoords, coordText, type BinlogPosition } from '../../shared/binlog/position.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readSourceSync } from '../../shared/checkpoint/sync-checkpoint.js';

/** How long a comparison waits for replication to reach the source position it read at. */
export const SYNC_WAIT_MS = 60_000;
const POLL_MS = 200;

/**
 * Waits until the target has applied every source transaction up to `positions` (read on each
 * source right after its rows were): the source's global checkpoint is the start of the oldest
 * transaction not fully applied, so once it reaches a position everything before it is in the
 * target. Only sources whose replication runs are waited for. Returns the sources that did not
 * get there in time, with where they stood.
 */
export async function waitForSync(
  target: Pool,
  meta: MetaTables,
  positions: Map<string, BinlogPosition | null>,
  followed: ReadonlySet<string>,
  waitMs = SYNC_WAIT_MS,
): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  const pending = new Map([...positions].filter(([id, p]) => p !== null && followed.has(id)) as [string, BinlogPosition][]);
  for (;;) {
    const behind: string[] = [];
    for (const [sourceId, position] of pending) {
      const global = (await readSourceSync(target, meta, sourceId)).global;
      if (global && compareCoords(global.coord, position) >= 0) pending.delete(sourceId);
      else
        behind.push(`source "${sourceId}" applied up to ${global ? coordText(global.coord) : 'nothing yet'}, not ${coordText(position)}`);
    }
    if (pending.size === 0) return [];
    if (Date.now() >= deadline) return behind;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
