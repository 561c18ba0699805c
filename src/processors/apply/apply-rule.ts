import type { ApplyJob } from '../../shared/binlog/batch.js';
import { compareCoords, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';

export type ApplyDecision =
  /** Every unit is already applied. */
  | { action: 'skip' }
  /** The table stands right before `units[from]`: apply from there to the end. */
  | { action: 'apply'; from: number }
  /** Too early: the predecessor is not applied yet, or the table's copy has not finished. */
  | { action: 'wait'; until: 'predecessor' | 'copy' }
  /** The table stands inside a unit: batches were cut differently, which must never happen. */
  | { action: 'conflict'; current: BinlogCoord; unit: number };

/**
 * The ordering rule, given where the job's table stands on the target (its checkpoint row,
 * locked). Units are chained, so at most one unit can start exactly at the checkpoint.
 */
export function decideApply(stored: BinlogCoord | undefined, job: Pick<ApplyJob, 'startIfMissing' | 'units'>): ApplyDecision {
  const current = stored ?? (job.startIfMissing ? parseCoordText(job.units[0]!.prev) : undefined);
  if (!current) return { action: 'wait', until: 'copy' };
  const from = job.units.findIndex((u) => compareCoords(parseCoordText(u.coord), current) > 0);
  if (from < 0) return { action: 'skip' };
  const order = compareCoords(current, parseCoordText(job.units[from]!.prev));
  if (order === 0) return { action: 'apply', from };
  // Past the first unit the previous unit ends where this one starts, so only the first can be early.
  if (order < 0 && from === 0) return { action: 'wait', until: 'predecessor' };
  return { action: 'conflict', current, unit: from };
}
