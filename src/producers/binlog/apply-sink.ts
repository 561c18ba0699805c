import { createHash } from 'node:crypto';
import type { ApplyBatch, ApplyJob, BatchTable } from '../../shared/binlog/batch.js';
import type { TaskConfig } from '../../shared/config/types.js';
import { applyJobOptions, applyQueueName } from '../../shared/queue/queues.js';
import { applyPartitionOf, applyPartitions } from '../../shared/queue/task-queues.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { groupIntoJobs } from './apply-jobs.js';

const FLUSH_SPACING_MS = 10;
const FLUSH_SPACING_BEHIND_MS = 50;
/** Batches of one table read together share a job (one target transaction) up to these limits. */
const JOB_ROWS = 5000;
const JOB_BYTES = 4 << 20;
/**
 * Row bytes in the outbox that are handed to Redis at once rather than after the spacing: a big
 * transaction decodes far faster than Redis takes it, and waiting would only grow the heap.
 */
const OUTBOX_FLUSH_BYTES = 8 << 20;

/**
 * The same job cut again by the same reader gets the same id, which BullMQ deduplicates while
 * the first one waits or runs; ids may not contain ':'. The epoch is part of it: a new reader's
 * job must not be taken for an older reader's job still queued, which the applier will refuse.
 */
function applyJobId(job: ApplyJob): string {
  const table = createHash('sha1').update(`${job.schema}\u0000${job.table}`).digest('hex').slice(0, 16);
  const span = `${job.batches[0]!.coord}..${job.batches.at(-1)!.coord}`.replaceAll(':', '@');
  const lane = job.lane ? `|l${job.lane.index}of${job.lane.count}` : '';
  return `apply|${job.sourceId}|${table}${lane}|e${job.epoch ?? 0}|${span}`;
}

/**
 * Where the reader's batches go: an outbox of one reader, grouped into apply jobs and added to
 * the task's apply partitions (a table's chain, or one of its lanes, always to the same one). A failed flush goes to
 * `onError`; the batches it held are read again after the reader restarts. Nothing is added
 * unless `mayWrite()`: a reader that lost its lease drops its outbox.
 */
export function createApplySink(
  ctx: ServiceContext,
  task: TaskConfig,
  onError: (err: unknown) => void,
  mayWrite: () => boolean,
  onFlushed: () => void,
) {
  const partitions = applyPartitions(task);
  const partitionOf = (b: BatchTable) => applyPartitionOf(b, partitions);
  let outbox: ApplyBatch[] = [];
  /** Row bytes in the outbox, and in the flush under way: decoded, not yet in Redis. */
  let outboxBytes = 0;
  let flightBytes = 0;
  let earlyFlushQueued = false;
  let flushScheduled = false;
  let lastFlushAt = 0;

  /**
   * Flushes run one after another: two overlapping runs could add a table's later batch before
   * its earlier one, and the applier would then wait on every batch behind it.
   */
  let flushing: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    flushing = flushing.then(flushOutbox).catch(onError);
    return flushing;
  }

  async function flushOutbox(): Promise<void> {
    // Rows pushed from here on need a flush of their own.
    earlyFlushQueued = false;
    const taken = outbox;
    flightBytes = outboxBytes;
    outbox = [];
    outboxBytes = 0;
    try {
      if (taken.length > 0 && mayWrite()) await addJobs(groupIntoJobs(taken, { maxRows: JOB_ROWS, maxBytes: JOB_BYTES }));
    } finally {
      flightBytes = 0;
    }
    onFlushed();
  }

  async function addJobs(jobs: ApplyJob[]): Promise<void> {
    const byQueue = new Map<string, ApplyJob[]>();
    for (const job of jobs) {
      const name = applyQueueName(task.name, partitionOf(job));
      const list = byQueue.get(name) ?? [];
      list.push(job);
      byQueue.set(name, list);
    }
    for (const [name, list] of byQueue) {
      await ctx.queues
        .get(name)
        .addBulk(list.map((job) => ({ name: 'apply', data: job, opts: { ...applyJobOptions, jobId: applyJobId(job) } })));
    }
  }

  return {
    /** Takes batches in binlog order; `behind`: the appliers have a backlog. */
    push(batches: ApplyBatch[], behind: boolean): void {
      for (const b of batches) {
        outbox.push(b);
        outboxBytes += b.bytes;
      }
      if (outboxBytes >= OUTBOX_FLUSH_BYTES && !earlyFlushQueued) {
        earlyFlushQueued = true;
        void flush();
        return;
      }
      // Hand batches to Redis once the current burst of events is decoded, but not more often
      // than every few milliseconds: a steady trickle of small transactions then still makes jobs
      // of many batches, and the spacing grows while the appliers have a backlog.
      if (flushScheduled) return;
      flushScheduled = true;
      const spacing = behind ? FLUSH_SPACING_BEHIND_MS : FLUSH_SPACING_MS;
      setTimeout(
        () => {
          flushScheduled = false;
          lastFlushAt = Date.now();
          void flush();
        },
        Math.max(0, lastFlushAt + spacing - Date.now()),
      );
    },
    /** Hands everything pushed so far to Redis, after any flush still running. */
    flush,
    /** Row bytes decoded and not yet in Redis: this process's share of the backlog. */
    heldBytes(): number {
      return outboxBytes + flightBytes;
    },
  };
}
