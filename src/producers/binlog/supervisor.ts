import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { TaskConfig } from '../../shared/config/types.js';
import { readsBinlog } from '../../shared/task/stages.js';
import { TASK_STATE_CHANNEL, type SourceTaskState } from '../../shared/state/registry.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { requireSource } from '../../shared/task/context.js';
import { startBinlogReader } from './reader.js';
import { startValidator } from '../validation/validator.js';

/**
 * How often tasks are looked at and leases renewed. A state change (a precheck passed, a source
 * entering Sync, a resume) is acted on at once through the task state channel; this poll renews
 * leases and catches a message lost in a reconnect.
 */
const TICK_MS = 1_000;
/**
 * A renewal that Redis has not answered in this time counts as failed: ioredis queues commands
 * while it reconnects, so waiting on it could outlast the lease. The reader steps down then.
 */
const RENEW_TIMEOUT_MS = 3_000;
/** How often the local clock is checked against each lease, apart from the ticks (which wait on Redis). */
const WATCH_MS = 250;

// The key keeps the reader's old name: processors of the previous release hold leases under it.
const leaseKey = (task: string, sourceId: string) => `dmq:lease:tailer:${task}:${sourceId}`;

// Extend the lease only if this process still holds it.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Whether a source of a running task needs its reader now: from the end of the precheck on
 * when it replicates (the reader queues changes while the copy runs), and in full mode only
 * for the replay after the copy, until it finishes.
 */
function wantsReader(task: TaskConfig, source: SourceTaskState | undefined): boolean {
  if (source?.stage !== 'Running' || !readsBinlog(task.taskMode)) return false;
  // Not before the precheck has passed: a failing task must leave the target untouched.
  return task.taskMode === 'full' ? source.unit === 'Sync' : source.unit !== 'Check';
}

/** A Redis answer, or a failure once `ms` have passed without one. */
function within<T>(ms: number, answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

interface RunningReader {
  task: string;
  sourceId: string;
  reader: ReturnType<typeof startBinlogReader>;
  /** The source's config the reader runs with: an `operate-source update` restarts it. */
  source: string;
  /** The source's continuous validator, under the same lease; idle unless validation runs. */
  validator: ReturnType<typeof startValidator>;
  lease: {
    /**
     * Until when the lease is surely this process's, on the monotonic clock: the start of the
     * last renewal that succeeded plus the lease. Redis may let it lapse a little later, never
     * earlier, so a reader that checks it before acting never acts after a successor started.
     */
    validUntil: number;
    /** Stepped down: whatever the clock says, the lease is not to be trusted any more. */
    lost: boolean;
  };
}

/**
 * Runs in every processor: exactly one binlog reader per (task, source) across all of them,
 * held by a Redis lease. If the process holding it dies, the lease lapses and another
 * processor takes the reader over within seconds, resuming from the checkpoint. A reader whose
 * lease is not renewed in time (Redis unreachable, the process paused) stops by itself; the
 * fencing epoch on the target refuses whatever it queued before it noticed.
 */
export function startReaderSupervisor(ctx: ServiceContext, { leaseMs }: { leaseMs: number }) {
  // Findable from the lease key: which host and process hold a reader.
  const owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  const running = new Map<string, RunningReader>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  /** Stops a reader whose lease is lost or doubtful at once, without waiting on Redis. */
  function stepDown(key: string, why: string): void {
    const entry = running.get(key);
    if (!entry) return;
    running.delete(key);
    entry.lease.lost = true;
    ctx.log.warn({ task: entry.task, source: entry.sourceId, owner }, `binlog reader steps down: ${why}`);
    entry.reader.stop().catch(() => undefined);
    entry.validator.stop().catch(() => undefined);
  }

  const watch = setInterval(() => {
    const now = performance.now();
    for (const [key, entry] of running) if (now > entry.lease.validUntil) stepDown(key, 'its lease was not renewed in time');
  }, WATCH_MS);

  async function release(key: string): Promise<void> {
    const entry = running.get(key);
    if (!entry) return;
    running.delete(key);
    await entry.reader.stop();
    await entry.validator.stop();
    await ctx.redis.eval(RELEASE, 1, leaseKey(entry.task, entry.sourceId), owner);
    ctx.log.info({ task: entry.task, source: entry.sourceId }, 'binlog reader stopped');
  }

  async function tick(): Promise<void> {
    const wanted = new Set<string>();
    for (const name of await ctx.registry.listTaskNames()) {
      const task = await ctx.registry.getTask(name);
      const state = await ctx.registry.getState(name);
      if (!task || !state || state.stage !== 'Running') continue;
      for (const instance of task.instances) {
        if (!wantsReader(task, state.sources[instance.sourceId])) continue;
        const key = JSON.stringify([name, instance.sourceId]);
        wanted.add(key);
        const lease = leaseKey(name, instance.sourceId);
        if (running.get(key)?.reader.ended()) await release(key);
        // An updated source (a new address, account or TLS): the reader reconnects with it, from its checkpoint.
        const source = await requireSource(ctx, task, instance.sourceId);
        if (running.has(key) && running.get(key)!.source !== JSON.stringify(source)) {
          ctx.log.info({ task: name, source: instance.sourceId }, 'source updated: its binlog reader restarts with it');
          await release(key);
        }
        const entry = running.get(key);
        if (entry) {
          const sentAt = performance.now();
          const renewed = await within(RENEW_TIMEOUT_MS, ctx.redis.eval(RENEW, 1, lease, owner, leaseMs)).then(
            (answer) => Number(answer) === 1,
            (err: unknown) => {
              ctx.log.warn({ task: name, source: instance.sourceId, err }, 'binlog reader lease renewal failed');
              return undefined;
            },
          );
          if (renewed === undefined) stepDown(key, 'Redis did not renew its lease in time');
          else if (!renewed) stepDown(key, 'another process holds its lease');
          else if (!entry.lease.lost) entry.lease.validUntil = sentAt + leaseMs;
          continue;
        }
        const sentAt = performance.now();
        if ((await ctx.redis.set(lease, owner, 'PX', leaseMs, 'NX')) !== 'OK') continue;
        const held = { validUntil: sentAt + leaseMs, lost: false };
        const valid = () => !held.lost && performance.now() <= held.validUntil;
        const reader = startBinlogReader(ctx, task, instance, source, { owner, valid });
        const validator = startValidator(ctx, task, instance, { valid });
        running.set(key, { task: name, sourceId: instance.sourceId, source: JSON.stringify(source), reader, validator, lease: held });
        ctx.log.info({ task: name, source: instance.sourceId, owner }, 'binlog reader lease taken');
      }
    }
    for (const key of running.keys()) if (!wanted.has(key)) await release(key);
  }

  let ticking = false;
  /** A state change arrived while a tick ran: that tick may have read the state before it. */
  let again = false;
  const loop = async () => {
    if (stopped) return;
    clearTimeout(timer);
    ticking = true;
    do {
      again = false;
      await tick().catch((err: unknown) => ctx.log.error({ err }, 'binlog reader supervision failed'));
    } while (again && !stopped);
    ticking = false;
    if (!stopped) timer = setTimeout(loop, TICK_MS);
  };
  void loop();

  // A source entering Sync, a resume or a pause is acted on at once rather than at the next tick.
  const changes = ctx.redis.duplicate();
  changes.on('error', (err: unknown) => ctx.log.debug({ err }, 'task state subscription: connection error'));
  changes.on('message', () => {
    if (ticking) again = true;
    else void loop();
  });
  changes
    .subscribe(TASK_STATE_CHANNEL)
    .catch((err: unknown) => ctx.log.warn({ err }, 'task state subscription failed: state changes are seen at the next poll'));

  return {
    async close(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      clearInterval(watch);
      changes.disconnect();
      for (const key of [...running.keys()]) await release(key);
    },
  };
}
