import type { PoolConnection } from 'mysql2/promise';
import type { ApplyJob } from '../../shared/binlog/batch.js';
import { describeTable, rowIdentityKey } from '../../shared/sql/catalog.js';
import { createJobCounts } from '../job-counts.js';

/** How a job's statements find its rows on the target. */
export interface TargetKeys {
  key: string[];
  uniqueColumns: string[];
  /** The target's only unique index is on exactly `key` (see ApplyTable). */
  soleKey: boolean;
}

/**
 * What the appliers of one process remember between jobs: lookups saved and notes for the
 * task's status, never a fact about the data. One per process, `applyCache`.
 */
function createApplyCache() {
  /**
   * What the target's indexes tell the statements, per (task, target table, binlog key,
   * columns). The binlog names a table's primary key only; for a table without one, the
   * target's first unique key over NOT NULL columns identifies rows instead of every column.
   * Invalid once the task's DDL generation moves (any process applied a DDL), and dropped when
   * the lookup fails. One entry per (task, target table): a DDL changes the binlog's columns,
   * and the old columns' entry would otherwise stay for as long as the process runs.
   */
  const targetKeys = new Map<string, { generation: string | null; shape: string; keys: Promise<TargetKeys> }>();
  /** Lock conflicts in a row per job id this process has waited out. */
  const lockConflicts = createJobCounts();
  /** Waits in a row (for a predecessor, or a join's lanes) per job id. */
  const waits = createJobCounts();

  return {
    targetKeys(conn: PoolConnection, job: ApplyJob, ddlGeneration: string | null): Promise<TargetKeys> {
      const cacheKey = JSON.stringify([job.task, job.target.schema, job.target.table]);
      const shape = JSON.stringify([job.key, job.columns]);
      const cached = targetKeys.get(cacheKey);
      if (cached && cached.generation === ddlGeneration && cached.shape === shape) return cached.keys;
      const keys = describeTable(conn, job.target).then((info) => {
        const identity = rowIdentityKey(info)?.columns ?? [];
        const key = job.key.length > 0 ? job.key : identity.every((c) => job.columns.includes(c)) ? identity : [];
        const uniqueColumns = [...new Set(info.uniqueKeys.flatMap((k) => k.columns))].filter((c) => !key.includes(c));
        const only = info.uniqueIndexes === 1 ? info.uniqueKeys[0] : undefined;
        const soleKey =
          key.length > 0 && only !== undefined && only.columns.length === key.length && key.every((c) => only.columns.includes(c));
        return { key, uniqueColumns, soleKey };
      });
      const entry = { generation: ddlGeneration, shape, keys };
      keys.catch(() => {
        if (targetKeys.get(cacheKey) === entry) targetKeys.delete(cacheKey);
      });
      targetKeys.set(cacheKey, entry);
      return keys;
    },
    /** Counts one more lock conflict of a job: how many in a row. */
    lockConflict(jobId: string): number {
      return lockConflicts.add(jobId);
    },
    /** The job got past its locks (or failed otherwise): its count starts again. */
    lockConflictsOver(jobId: string): void {
      lockConflicts.clear(jobId);
    },
    /** Counts one more wait of a job for another chain: how many in a row. */
    waited(jobId: string): number {
      return waits.add(jobId);
    },
    waitsOver(jobId: string): void {
      waits.clear(jobId);
    },
  };
}

/** The appliers' cache of this process. */
export const applyCache = createApplyCache();
