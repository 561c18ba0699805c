import type { Job } from 'bullmq';
import { DmqError, toErrorRecord } from '../shared/errors.js';
import type { ChunkJob } from '../shared/queue/queues.js';
import { isUnreachable } from '../shared/sql/connect.js';
import type { ServiceContext } from '../shared/task/context.js';

/** While a server is away a copy job waits 1 s, doubling up to this, for as long as it takes. */
const OUTAGE_MAX_WAIT_MS = 30_000;

/** The driver's unreachable-server error in `err` or the errors it wraps. */
function unreachableCause(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isUnreachable(e)) return e;
  }
  return undefined;
}

/**
 * Dump and load jobs meet a source or the target gone away (restarting, cut off) as apply jobs
 * do: the job waits for it without spending its attempts, the task stays Running with the error
 * in its status, and goes on by itself once the server is back. Attempts would run out within
 * 30 s and pause the task for an outage that heals by itself.
 */
export function copyOutages() {
  const waits = new Map<string, number>();
  return {
    /** How long `job` should wait if `err` says its server is unreachable; undefined otherwise. */
    async waitMs(ctx: ServiceContext, job: Job<ChunkJob>, err: unknown): Promise<number | undefined> {
      const cause = unreachableCause(err);
      if (!cause || job.id === undefined) return undefined;
      const n = (waits.get(job.id) ?? 0) + 1;
      waits.set(job.id, n);
      if (n === 1) {
        const error = new DmqError(
          'CONNECT_FAILED',
          `a server of task "${job.data.task}" cannot be reached while copying source "${job.data.sourceId}" (${job.queueName}): ${cause.message}`,
          {
            cause,
            workaround:
              'dmq keeps retrying (up to every 30 s) and goes on by itself once the server is back; check that the source and the target are running and reachable',
          },
        );
        ctx.log.warn(
          { task: job.data.task, source: job.data.sourceId, queue: job.queueName, err: error },
          'server unreachable; copy job waits',
        );
        await ctx.registry.updateState(job.data.task, (state) => {
          const s = state.sources[job.data.sourceId];
          if (s && s.stage === 'Running') s.error = toErrorRecord(error);
        });
      }
      return Math.min(OUTAGE_MAX_WAIT_MS, 1000 * 2 ** (n - 1));
    },
    /** After `job` succeeded: ends the outage it waited out, if any. */
    async over(ctx: ServiceContext, job: Job<ChunkJob>): Promise<void> {
      if (job.id === undefined || !waits.delete(job.id)) return;
      ctx.log.info({ task: job.data.task, source: job.data.sourceId, queue: job.queueName }, 'server reachable again; copy job goes on');
      await ctx.registry.updateState(job.data.task, (state) => {
        const s = state.sources[job.data.sourceId];
        if (s?.error?.code === 'CONNECT_FAILED') delete s.error;
      });
    },
  };
}
