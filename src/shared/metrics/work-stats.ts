import type { Redis } from 'ioredis';

/**
 * Figures that processors count as they work, kept in Redis so that whichever process serves
 * /metrics reports the work of all of them. One hash per figure, one field per label set.
 */
const key = (figure: string) => `dmq:metrics:${figure}`;

/** Upper bounds (seconds) of the apply-latency histogram's buckets. */
export const APPLY_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const labelField = (labels: string[]) => JSON.stringify(labels);

export async function recordApply(
  redis: Redis,
  task: string,
  sourceId: string,
  applied: { batches: number; rows: number; seconds: number },
): Promise<void> {
  const field = labelField([task, sourceId]);
  const bucket = APPLY_SECONDS_BUCKETS.find((b) => applied.seconds <= b);
  // One transaction: a scrape must never see a job's rows without its batches.
  const pipeline = redis
    .multi()
    .hincrby(key('apply_jobs'), field, 1)
    .hincrby(key('apply_batches'), field, applied.batches)
    .hincrby(key('apply_rows'), field, applied.rows)
    .hincrbyfloat(key('apply_seconds_sum'), field, applied.seconds);
  // Counts per bucket; the exposition adds them up into Prometheus's cumulative `le` buckets.
  pipeline.hincrby(key('apply_seconds_buckets'), labelField([task, sourceId, bucket === undefined ? '+Inf' : String(bucket)]), 1);
  await pipeline.exec();
}

export async function recordJobFailure(redis: Redis, task: string, unit: string, code: string): Promise<void> {
  await redis.hincrby(key('job_failures'), labelField([task, unit, code]), 1);
}

/** A lock conflict (deadlock, lock-wait timeout, write conflict) an apply job met and waits out. */
export async function recordLockConflict(redis: Redis, task: string, sourceId: string, errno: number): Promise<void> {
  await redis.hincrby(key('apply_lock_conflicts'), labelField([task, sourceId, String(errno)]), 1);
}

const FIGURES = [
  'apply_jobs',
  'apply_batches',
  'apply_rows',
  'apply_seconds_sum',
  'apply_seconds_buckets',
  'job_failures',
  'apply_lock_conflicts',
] as const;
type Figure = (typeof FIGURES)[number];
type FigureValues = Record<Figure, { labels: string[]; value: number }[]>;

/** Every field of every figure, its labels and value, read in one transaction (see recordApply). */
export async function readFigures(redis: Redis): Promise<FigureValues> {
  const multi = redis.multi();
  for (const figure of FIGURES) multi.hgetall(key(figure));
  const results = (await multi.exec()) ?? [];
  const values = {} as FigureValues;
  for (const [i, figure] of FIGURES.entries()) {
    const [err, fields] = results[i] ?? [null, {}];
    if (err) throw err;
    values[figure] = Object.entries(fields as Record<string, string>).map(([field, value]) => ({
      labels: JSON.parse(field) as string[],
      value: Number(value),
    }));
  }
  return values;
}

/** A task's figures go when the task is removed with its metadata. */
export async function forgetTaskFigures(redis: Redis, task: string): Promise<void> {
  const values = await readFigures(redis);
  for (const figure of FIGURES) {
    const stale = values[figure].filter((f) => f.labels[0] === task).map((f) => labelField(f.labels));
    if (stale.length > 0) await redis.hdel(key(figure), ...stale);
  }
}
