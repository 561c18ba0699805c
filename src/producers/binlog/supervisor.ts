import { randomUUID } from 'node:crypto';
import type { TaskConfig } from '../../shared/config/types.js';
import { readsBinlog } from '../../shared/task/stages.js';
import type { SourceTaskState } from '../../shared/state/registry.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { requireSource } from '../../shared/task/context.js';
import { startBinlogReader } from './reader.js';

const LEASE_MS = 15_000;
const TICK_MS = 1_000;

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

/**
 * Runs in every processor: exactly one binlog reader per (task, source) across all of them,
 * held by a Redis lease. If the process holding it dies, the lease lapses and another
 * processor takes the reader over within seconds, resuming from the checkpoint.
 */
export function startReaderSupervisor(ctx: ServiceContext) {
  const owner = randomUUID();
  const running = new Map<string, { task: string; sourceId: string; reader: ReturnType<typeof startBinlogReader> }>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function release(key: string): Promise<void> {
    const entry = running.get(key);
    if (!entry) return;
    running.delete(key);
    await entry.reader.stop();
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
        if (running.has(key)) {
          if (Number(await ctx.redis.eval(RENEW, 1, lease, owner, LEASE_MS)) === 0) {
            ctx.log.warn({ task: name, source: instance.sourceId }, 'lost the binlog reader lease');
            running
              .get(key)!
              .reader.stop()
              .catch(() => undefined);
            running.delete(key);
          }
          continue;
        }
        if ((await ctx.redis.set(lease, owner, 'PX', LEASE_MS, 'NX')) !== 'OK') continue;
        const source = await requireSource(ctx, task, instance.sourceId);
        running.set(key, { task: name, sourceId: instance.sourceId, reader: startBinlogReader(ctx, task, instance, source) });
      }
    }
    for (const key of running.keys()) if (!wanted.has(key)) await release(key);
  }

  const loop = async () => {
    if (stopped) return;
    await tick().catch((err: unknown) => ctx.log.error({ err }, 'binlog reader supervision failed'));
    if (!stopped) timer = setTimeout(loop, TICK_MS);
  };
  void loop();

  return {
    async close(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const key of [...running.keys()]) await release(key);
    },
  };
}
