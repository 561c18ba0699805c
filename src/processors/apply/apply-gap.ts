import type { Job } from 'bullmq';
import type { ApplyJob, DdlWait } from '../../shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { DmqError, toErrorRecord } from '../../shared/errors.js';
import { tableLabel } from '../../shared/sql/quote.js';
import { rereadDoneKey, rereadKey, type RereadDone } from '../../shared/state/reread.js';
import { applyQueueName } from '../../shared/queue/queues.js';
import { applyPartitionOf, applyPartitions } from '../../shared/queue/task-queues.js';
import { pauseTask } from '../../shared/task/control.js';
import type { ServiceContext } from '../../shared/task/context.js';

/**
 * How long a table may wait for its predecessor before dmq looks for it in the table's apply
 * partition, and then between looks. A predecessor in flight is usually there within moments.
 */
const GAP_CHECK_MS = 10_000;
/** After the reader read again for the batch, how long it may take to come back before the task pauses. */
const REREAD_WAIT_MS = 60_000;
/** The queue states a job waits or runs in: a predecessor in any of them will come. */
const LIVE_STATES = ['active', 'waiting', 'delayed', 'prioritized', 'waiting-children'] as const;

/** What dmq knows of one table's wait for its predecessor, shared by every process in Redis. */
interface GapWatch {
  /** Where the table stands (its checkpoint) while it waits. */
  at: string;
  since: number;
  checkedAt: number;
  /** When the table first asked the reader to read again. */
  askedAt?: number;
}

const gapsKey = (task: string) => `dmq:apply-gaps:${task}`;
const gapField = (stream: GapStream) => JSON.stringify([stream.sourceId, stream.schema, stream.table, stream.lane?.index ?? null]);

/** A chain that waits: a table's own, or one of its lanes (whose batches may also wait for a join, in the table's own chain). */
interface GapStream extends Pick<ApplyJob, 'task' | 'sourceId' | 'schema' | 'table' | 'lane'> {}

/** Whether `job` holds the batch that starts where `stream` stands (`at`). */
function covers(job: ApplyJob, stream: GapStream, at: BinlogCoord): boolean {
  if (job.sourceId !== stream.sourceId || job.schema !== stream.schema || job.table !== stream.table) return false;
  if (job.lane && job.lane.index !== stream.lane?.index) return false;
  return job.batches.some((b) => compareCoords(parseCoordText(b.prev), at) <= 0 && compareCoords(parseCoordText(b.coord), at) > 0);
}

/**
 * The job in the stream's partitions (a lane's, and its table's for a join) that will apply the
 * batch after `at`, if any. All states in one read per queue, so a job moving from one state to
 * another is not missed between two reads.
 */
async function findPredecessor(
  ctx: ServiceContext,
  stream: GapStream,
  at: BinlogCoord,
): Promise<{ id: string; state: string } | undefined> {
  const task = await ctx.registry.requireTask(stream.task);
  const partitions = applyPartitions(task);
  const queues = new Set([stream, { ...stream, lane: undefined }].map((s) => applyQueueName(stream.task, applyPartitionOf(s, partitions))));
  for (const name of queues) {
    const jobs = await ctx.queues.get(name).getJobs([...LIVE_STATES]);
    const found = jobs.find((j) => j?.data && covers(j.data as ApplyJob, stream, at));
    if (found) return { id: found.id!, state: await found.getState() };
  }
  return undefined;
}

/**
 * Called each time `job` finds its table at `at`, short of its first batch. A wait that does
 * not end is looked into: while a job that holds the missing batch waits or runs (a long DDL, a
 * huge transaction) the table waits on, logging where; when no job holds it, Redis lost it, and
 * the source's binlog reader is asked to read again from its checkpoint (once it has read past
 * the batch), which cuts the same batches again; if that brings nothing back either, the task
 * pauses and says so.
 */
export function watchPredecessorWait(ctx: ServiceContext, job: Job<ApplyJob>, at: BinlogCoord): Promise<void> {
  // The batch right before this job's first: at or after the missing ones (later jobs of the
  // stream look too), so a reader that has read past it has read past them.
  return watchGap(ctx, job.data, at, job.data.batches[0]!.prev);
}

/**
 * Called each time a join finds a lane of its table short of where it must stand: the lane's
 * batches are looked for as a waiting batch's predecessor is (see watchPredecessorWait).
 */
export function watchLaneWait(ctx: ServiceContext, job: ApplyJob, wait: DdlWait, at: BinlogCoord | undefined): Promise<void> {
  const stream: GapStream = {
    task: job.task,
    sourceId: job.sourceId,
    schema: wait.schema,
    table: wait.table,
    ...(wait.lane ? { lane: wait.lane } : {}),
  };
  // A lane that never applied anything stands where its table did when the reader started: before the join's predecessor.
  return watchGap(ctx, stream, at ?? parseCoordText(job.batches[0]!.prev), wait.coord);
}

async function watchGap(ctx: ServiceContext, data: GapStream, at: BinlogCoord, missing: string): Promise<void> {
  const now = Date.now();
  const key = gapsKey(data.task);
  const field = gapField(data);
  const stored = await ctx.redis.hget(key, field);
  const watch = stored ? (JSON.parse(stored) as GapWatch) : undefined;
  if (!watch || watch.at !== coordText(at)) {
    await ctx.redis.hset(key, field, JSON.stringify({ at: coordText(at), since: now, checkedAt: now } satisfies GapWatch));
    return;
  }
  if (now - watch.checkedAt < GAP_CHECK_MS) return;
  const fields = {
    task: data.task,
    source: data.sourceId,
    table: tableLabel(data),
    ...(data.lane ? { lane: data.lane.index } : {}),
    at: watch.at,
    waitedSeconds: Math.round((now - watch.since) / 1000),
  };
  const predecessor = await findPredecessor(ctx, data, at);
  if (predecessor) {
    ctx.log.info(
      { ...fields, predecessor: predecessor.id, state: predecessor.state },
      'table waits for its previous batch, which is queued',
    );
    await ctx.redis.hset(key, field, JSON.stringify({ at: watch.at, since: watch.since, checkedAt: now } satisfies GapWatch));
    return;
  }
  const lane = data.lane ? ` (lane ${data.lane.index} of ${data.lane.count})` : '';
  const where = `${tableLabel(data)}${lane} of source "${data.sourceId}" at ${watch.at}`;
  const doneText = await ctx.redis.get(rereadDoneKey(data.task, data.sourceId));
  const done = doneText ? (JSON.parse(doneText) as RereadDone) : undefined;
  if (done && watch.askedAt !== undefined && done.time >= watch.askedAt && now - done.time >= REREAD_WAIT_MS) {
    const error = new DmqError(
      'APPLY_GAP',
      `${where}: the batch after this position is in no queue, and reading the binlog again from the source's checkpoint did not bring it back`,
      {
        where: watch.at,
        workaround: `\`dmq resume-task ${data.task}\` reads the binlog again; if the table still waits, start the task again from its checkpoints (\`dmq stop-task ${data.task}\`, then \`dmq start-task\` with the same task.yaml)`,
      },
    );
    ctx.log.error({ ...fields, err: error }, 'the missing batch did not come back; pausing the task');
    await ctx.redis.hdel(key, field);
    await pauseTask(ctx, data.task, error);
    return;
  }
  if (watch.askedAt === undefined) {
    const error = new DmqError(
      'APPLY_GAP',
      `${where}: the batch after this position is in no queue (Redis lost it); the binlog reader of the source reads again from its checkpoint to cut it again`,
      { where: watch.at, workaround: 'nothing to do if it clears by itself; run Redis with appendfsync always to lose no job' },
    );
    ctx.log.warn({ ...fields, err: error }, 'a batch is missing; asking the binlog reader to read again');
    await ctx.registry.updateState(data.task, (state) => {
      const s = state.sources[data.sourceId];
      if (s && s.stage === 'Running') s.error = toErrorRecord(error);
    });
  } else {
    ctx.log.info({ ...fields, missing }, 'table waits for the binlog reader to cut its missing batch again');
  }
  // Asked again at each look, so the request lasts as long as the table waits and no longer.
  await ctx.redis.set(rereadKey(data.task, data.sourceId), missing, 'EX', 600);
  await ctx.redis.hset(key, field, JSON.stringify({ ...watch, checkedAt: now, askedAt: watch.askedAt ?? now } satisfies GapWatch));
}

/**
 * The table applied a batch: a wait it had is over, and an error its gap put in the task's
 * status goes (the status error is the source's, shown until the gap filled).
 */
export async function endPredecessorWait(ctx: ServiceContext, job: ApplyJob): Promise<void> {
  const stored = await ctx.redis.hget(gapsKey(job.task), gapField(job));
  if (!stored) return;
  await ctx.redis.hdel(gapsKey(job.task), gapField(job));
  if ((JSON.parse(stored) as GapWatch).askedAt === undefined) return;
  ctx.log.info({ task: job.task, source: job.sourceId, table: tableLabel(job) }, 'the missing batch is back; the table applies again');
  await ctx.registry.updateState(job.task, (state) => {
    const s = state.sources[job.sourceId];
    if (s?.error?.code === 'APPLY_GAP') delete s.error;
  });
}
