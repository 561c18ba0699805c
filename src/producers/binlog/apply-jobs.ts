import type { ApplyBatch, ApplyJob, Batch } from '../../shared/binlog/batch.js';

export interface JobLimits {
  maxRows: number;
  maxBytes: number;
}

/**
 * Groups the batches read since the last flush into apply jobs: each chain's (a table's, or a
 * lane's) consecutive batches share one job up to the limits, so a stream of small transactions costs one
 * target transaction and one queue round trip per job instead of per transaction. The more the
 * appliers lag, the more batches wait per flush and the larger the jobs get.
 */
export function groupIntoJobs(batches: ApplyBatch[], limits: JobLimits): ApplyJob[] {
  const jobs: ApplyJob[] = [];
  const open = new Map<string, { job: ApplyJob; rows: number; bytes: number; shape: string }>();
  for (const b of batches) {
    const key = JSON.stringify([b.sourceId, b.schema, b.table, b.lane?.index ?? null]);
    const current = open.get(key);
    // A table map event between two batches may have changed the columns: such batches do not
    // mix. Batches of one table description share its arrays, which spares the comparison.
    const shape =
      current &&
      current.job.target === b.target &&
      current.job.columns === b.columns &&
      current.job.key === b.key &&
      current.job.columnKinds === b.columnKinds
        ? current.shape
        : JSON.stringify([b.target, b.columns, b.key, b.columnKinds]);
    // A DDL barrier is a job of its own: it commits on the target by itself. So is a join, which
    // waits for the lanes before it.
    const fits =
      current !== undefined &&
      !b.ddl &&
      !b.join &&
      !current.job.batches.at(-1)!.ddl &&
      !current.job.batches.at(-1)!.join &&
      current.shape === shape &&
      current.job.epoch === b.epoch &&
      current.job.batches.at(-1)!.coord === b.prev &&
      !b.startIfMissing &&
      current.rows + b.changes.length <= limits.maxRows &&
      current.bytes + b.bytes <= limits.maxBytes;
    const batch: Batch = {
      coord: b.coord,
      prev: b.prev,
      safe: b.safe,
      changes: b.changes,
      eventTime: b.eventTime,
      gtid: b.gtid,
      ...(b.gtidSet === undefined ? {} : { gtidSet: b.gtidSet }),
      ...(b.ddl ? { ddl: b.ddl } : {}),
      ...(b.join ? { join: b.join } : {}),
    };
    if (fits) {
      current.job.batches.push(batch);
      current.rows += b.changes.length;
      current.bytes += b.bytes;
      continue;
    }
    const job: ApplyJob = {
      task: b.task,
      sourceId: b.sourceId,
      schema: b.schema,
      table: b.table,
      target: b.target,
      columns: b.columns,
      key: b.key,
      ...(b.columnKinds ? { columnKinds: b.columnKinds } : {}),
      ...(b.lane ? { lane: b.lane } : {}),
      startIfMissing: b.startIfMissing,
      epoch: b.epoch,
      batches: [batch],
    };
    jobs.push(job);
    open.set(key, { job, rows: b.changes.length, bytes: b.bytes, shape });
  }
  return jobs;
}
