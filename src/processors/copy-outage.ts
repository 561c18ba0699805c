import type { Job } from 'bullmq';
import { DmqError } from '../shared/errors.js';
import type { ChunkJob } from '../shared/queue/queues.js';
import { unreachableCause } from '../shared/sql/connect.js';
import type { ServiceContext } from '../shared/task/context.js';
import { createServerOutages } from './server-outages.js';

/**
 * Dump and load jobs meet a source or the target gone away as apply jobs do: the job waits for
 * it (server-outages.ts), the task stays Running with CONNECT_FAILED in its status, and goes on
 * by itself once the server is back.
 */
export function copyOutages() {
  const outages = createServerOutages();
  const site = (job: Job<ChunkJob>) => ({ task: job.data.task, sourceId: job.data.sourceId, jobId: String(job.id) });
  return {
    /** How long `job` should wait if `err` says its server is unreachable; undefined otherwise. */
    async waitMs(ctx: ServiceContext, job: Job<ChunkJob>, err: unknown): Promise<number | undefined> {
      const cause = unreachableCause(err);
      if (!cause || job.id === undefined) return undefined;
      const error = new DmqError(
        'CONNECT_FAILED',
        `a server of task "${job.data.task}" cannot be reached while copying source "${job.data.sourceId}" (${job.queueName}): ${cause.message}`,
        {
          cause,
          workaround:
            'dmq keeps retrying (up to every 30 s) and goes on by itself once the server is back; check that the source and the target are running and reachable',
        },
      );
      return outages.wait(ctx, site(job), {
        error,
        starts: 'server unreachable; copy jobs wait',
        ends: 'server reachable again; copy jobs go on',
        fields: { queue: job.queueName },
      });
    },
    /** After `job` succeeded: ends the outage it waited out, if any. */
    async over(ctx: ServiceContext, job: Job<ChunkJob>): Promise<void> {
      if (job.id !== undefined) await outages.over(ctx, site(job), 'CONNECT_FAILED', 'server reachable again; copy jobs go on');
    },
  };
}
