import type { ApplyJob } from '../../shared/binlog/batch.js';
import { compareCoords, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';

export type ApplyDecision =
  /** Every batch is already applied. */
  | { action: 'skip' }
  /** The table stands right before `batches[from]`: apply from there to the end. */
  | { action: 'apply'; from: number }
  /** Too early: the table's copy has not finished. */
  | { action: 'wait'; until: 'copy' }
  /** Too early: the table stands at `current`, before the job's first batch; its predecessor is not applied yet. */
  | { action: 'wait'; until: 'predecessor'; current: BinlogCoord }
  /** The table stands inside a batch: batches were cut differently, which must never happen. */
  | { action: 'conflict'; current: BinlogCoord; batch: number };

/**
 * The ordering rule, given where the job's table stands on the target (its checkpoint row,
 * locked). Batches are chained, so at most one batch can start exactly at the checkpoint.
 */
export function decideApply(stored: BinlogCoord | undefined, job: Pick<ApplyJob, 'startIfMissing' | 'batches'>): ApplyDecision {
  const current = stored ?? (job.startIfMissing ? parseCoordText(job.batches[0]!.prev) : undefined);
  if (!current) return { action: 'wait', until: 'copy' };
  const from = job.batches.findIndex((b) => compareCoords(parseCoordText(b.coord), current) > 0);
  if (from < 0) return { action: 'skip' };
  const order = compareCoords(current, parseCoordText(job.batches[from]!.prev));
  if (order === 0) return { action: 'apply', from };
  // Past the first batch the previous batch ends where this one starts, so only the first can be early.
  if (order < 0 && from === 0) return { action: 'wait', until: 'predecessor', current };
  return { action: 'conflict', current, batch: from };
}
