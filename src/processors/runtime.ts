import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { DmqError, errorClass, pausesTaskAtOnce } from '../shared/errors.js';
import { recordJobFailure } from '../shared/metrics/work-stats.js';
import { STATIC_QUEUES, bullmqOptions, listActiveQueues, type ChunkJob, type TaskJob } from '../shared/queue/queues.js';
import { handlePlanJob } from './plan/plan-job.js';
import { pauseTask } from '../shared/task/control.js';
import { queueKindOf, type QueueKind } from '../shared/task/stages.js';
import type { ServiceContext } from '../shared/task/context.js';
import { handleApplyJob } from './apply/apply-job.js';
import { handleDumpJob } from './dump/dump-job.js';
import { handleLoadJob } from './load/load-job.js';
import { handlePrecheckJob } from './precheck/precheck-job.js';
import { copyOutages } from './copy-outage.js';
import { handleDiffJob } from './diff/diff-job.js';

type Handler = (job: Job, ctx: ServiceContext, token?: string) => Promise<unknown>;

/**
 * A killed processor's jobs come back after about `takeoverMs` (BullMQ renews a lock at half its
 * duration and looks for stalled jobs at each interval); duplicates that this allows are harmless
 * because every step is guarded by its checkpoint on the target.
 */
function workerTiming(takeoverMs: number) {
  return { lockDuration: Math.round((takeoverMs * 4) / 3), stalledInterval: Math.round((takeoverMs * 2) / 3), maxStalledCount: 10 };
}

function wrap(handler: Handler, ctx: ServiceContext) {
  const outages = copyOutages();
  return async (job: Job<TaskJob>, token?: string) => {
    const copy = ['dump', 'load'].includes(queueKindOf(job.queueName) ?? '') ? (job as Job<ChunkJob>) : undefined;
    try {
      const result = await handler(job, ctx, token);
      if (copy) await outages.over(ctx, copy);
      return result;
    } catch (err) {
      if (err instanceof DelayedError) throw err;
      if (errorClass(err, 'job') === 'silent') return undefined;
      const outageWait = copy ? await outages.waitMs(ctx, copy, err) : undefined;
      if (outageWait !== undefined) {
        // Not a failed attempt: the job keeps its place and the task keeps running.
        await job.moveToDelayed(Date.now() + outageWait, token);
        throw new DelayedError();
      }
      const permanent = pausesTaskAtOnce(err, 'job');
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      ctx.log.warn({ task: job.data.task, queue: job.queueName, jobId: job.id, attempt: job.attemptsMade + 1, err }, 'job failed');
      await recordJobFailure(ctx.redis, job.data.task, job.queueName.split('.')[0]!, err instanceof DmqError ? err.code : 'INTERNAL').catch(
        () => undefined,
      );
      if (permanent || lastAttempt) {
        await pauseTask(ctx, job.data.task, err).catch((e: unknown) => ctx.log.error({ err: e }, 'cannot pause task'));
      }
      if (permanent) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
  };
}

/** The job handler of each kind of queue in the stage table. */
const HANDLERS: Record<QueueKind, Handler> = {
  precheck: handlePrecheckJob as Handler,
  plan: handlePlanJob as Handler,
  dump: handleDumpJob as Handler,
  load: handleLoadJob as Handler,
  apply: handleApplyJob as Handler,
};

function handlerFor(queueName: string): Handler | undefined {
  // A diff belongs to no unit of the task: it reads what the units wrote.
  if (queueName === STATIC_QUEUES.diff) return handleDiffJob as Handler;
  const kind = queueKindOf(queueName);
  return kind === undefined ? undefined : HANDLERS[kind];
}

/**
 * Runs every dmq queue in this process: the fixed precheck and plan queues, and the dump and
 * load queues of each (task, source), found in Redis and followed as tasks come and go.
 */
export function startProcessors(ctx: ServiceContext, options: { takeoverMs: number; pollMs?: number }) {
  const workers = new Map<string, Worker>();
  const queueOptions = bullmqOptions(ctx.redis);

  function startWorker(name: string, concurrency: number): void {
    const handler = handlerFor(name);
    if (!handler) return;
    const worker = new Worker(name, wrap(handler, ctx), { ...queueOptions, concurrency, ...workerTiming(options.takeoverMs) });
    worker.on('error', (err) => ctx.redisHealth.queueError(err, { queue: name }));
    workers.set(name, worker);
  }

  startWorker(STATIC_QUEUES.precheck, 2);
  startWorker(STATIC_QUEUES.plan, 2);
  startWorker(STATIC_QUEUES.diff, 1);

  let stopped = false;
  async function reconcile(): Promise<void> {
    const active = await listActiveQueues(ctx.redis);
    for (const [name, q] of active) {
      const worker = workers.get(name);
      if (!worker) startWorker(name, q.concurrency);
      else if (worker.concurrency !== q.concurrency) worker.concurrency = q.concurrency;
    }
    for (const [name, worker] of workers) {
      if ((Object.values(STATIC_QUEUES) as string[]).includes(name) || active.has(name)) continue;
      workers.delete(name);
      await worker.close(true);
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    if (stopped) return;
    await reconcile().catch((err: unknown) => ctx.log.error({ err }, 'cannot read active queues'));
    if (!stopped) timer = setTimeout(loop, options.pollMs ?? 1000);
  };
  void loop();

  return {
    workers: () => [...workers.keys()],
    /** `force`: without waiting for the jobs in flight (Redis is away: they could not finish anyway). */
    async close(force = false): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all([...workers.values()].map((w) => w.close(force)));
      workers.clear();
    },
  };
}
