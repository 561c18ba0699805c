import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServiceContext } from '../../shared/task/context.js';
import { parseCoordText } from '../../shared/binlog/position.js';
import { APPLY_SECONDS_BUCKETS, readFigures } from '../../shared/metrics/work-stats.js';
import { STATIC_QUEUES, listActiveQueues } from '../../shared/queue/queues.js';
import { taskStatus } from '../status/task-status.js';

const QUEUE_STATES = ['wait', 'active', 'delayed', 'failed', 'prioritized'] as const;

export const METRICS_PATH = '/metrics';

type SubTask = Awaited<ReturnType<typeof taskStatus>>['sources'][number]['subTaskStatus'][number];

/**
 * Prometheus metrics. Everything but the process's own figures is read when scraped: task
 * progress from the checkpoints on the target (as query-status reads it), replication from
 * the binlog readers' reports, queue depths from BullMQ, and the counts processors keep in
 * Redis; so any dmq process serving the API reports the work of all of them.
 */
export function createMetrics(ctx: ServiceContext) {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: 'dmq_' });
  const gauge = (name: string, help: string, labelNames: string[] = ['task', 'source']) =>
    new Gauge({ name, help, labelNames, registers: [register] });

  const taskStage = gauge('dmq_task_stage', 'The task stage (1 for the current one)', ['task', 'stage']);
  const sourceUnit = gauge('dmq_source_unit', 'The unit a source of a task is in (1 for the current one)', ['task', 'source', 'unit']);
  const taskErrors = gauge('dmq_task_errors', 'Errors a task shows now, by code', ['task', 'source', 'code']);
  const dumpRows = gauge('dmq_dump_rows', 'Rows dumped by the copy');
  const dumpBytes = gauge('dmq_dump_bytes', 'Bytes of chunk files dumped by the copy');
  const loadRows = gauge('dmq_load_rows', 'Rows loaded into the target by the copy');
  const loadBytes = gauge('dmq_load_bytes', 'Bytes of chunk files loaded into the target');
  const chunks = gauge('dmq_chunks', 'Chunks of the copy: planned, dumped, loaded', ['task', 'source', 'state']);
  const lag = gauge('dmq_replication_lag_seconds', 'Age of the oldest change not yet applied, on the source clock (0 when synced)');
  const synced = gauge('dmq_replication_synced', '1 when everything the source has written is applied');
  const pending = gauge('dmq_replication_pending_batches', 'Batches read from the binlog and queued, not yet applied');
  const events = gauge('dmq_replication_events_read', 'Row events the current binlog reader has read');
  const tps = gauge('dmq_replication_recent_tps', 'Source transactions applied per second over the last 10 s');
  const binlogFile = gauge('dmq_binlog_file_number', 'Binlog file number: master (source end), read, applied (resume point)', [
    'task',
    'source',
    'position',
  ]);
  const binlogPos = gauge('dmq_binlog_position', 'Binlog position within that file: master, read, applied', ['task', 'source', 'position']);
  const validationRunning = gauge('dmq_validation_running', '1 while the continuous validator of a source runs, 0 when it is stopped');
  const validationPending = gauge('dmq_validation_pending_rows', 'Changed rows waiting for the continuous validator to compare them');
  const validationErrors = gauge('dmq_validation_error_rows', 'Rows the continuous validator found different, by state', [
    'task',
    'source',
    'status',
  ]);
  const validationLag = gauge(
    'dmq_validation_lag_seconds',
    'Age of the oldest applied change not yet validated, on the source clock (0 when none waits)',
  );
  const diffTables = gauge(
    'dmq_diff_tables',
    "Tables of the task's last dmq diff by outcome (equal, different, copying, missing, mismatch, failed, pending)",
    ['task', 'outcome'],
  );
  const diffRows = gauge('dmq_diff_different_rows', "Rows the task's last dmq diff found different (missing, extra or changed)", ['task']);
  const diffRunning = gauge('dmq_diff_running', '1 while a dmq diff of the task runs', ['task']);
  const queueJobs = gauge('dmq_queue_jobs', 'Jobs in each dmq queue by state', ['queue', 'state']);
  const applyJobs = gauge('dmq_apply_jobs', 'Apply jobs committed on the target');
  const applyBatches = gauge('dmq_apply_batches', 'Binlog batches applied');
  const applyRows = gauge('dmq_apply_rows', 'Row changes applied');
  const jobFailures = gauge('dmq_job_failures', 'Failed job attempts by unit and error code', ['task', 'unit', 'code']);
  const lockConflicts = gauge('dmq_apply_lock_conflicts', 'Deadlocks, lock-wait timeouts and write conflicts apply jobs met and retried', [
    'task',
    'source',
    'errno',
  ]);
  // Processors count jobs per latency bucket in Redis; this exposes them as one histogram.
  const applySeconds = {
    name: 'dmq_apply_seconds',
    help: 'Time from taking an apply job to its commit on the target',
    type: 'histogram',
    values: [] as { labels: Record<string, string>; value: number; metricName: string }[],
    async get() {
      return { name: this.name, help: this.help, type: this.type, values: this.values, aggregator: 'sum' };
    },
    reset() {
      this.values = [];
    },
  };
  register.registerMetric(applySeconds as never);
  redisMetrics(register, ctx);
  copyBufferMetrics(register, ctx);

  function setPosition(task: string, source: string, position: string, text: string | undefined): void {
    if (!text) return;
    const coord = parseCoordText(text);
    const number = /\.(\d+)$/.exec(coord.file);
    if (number) binlogFile.set({ task, source, position }, Number(number[1]));
    binlogPos.set({ task, source, position }, coord.pos);
  }

  function setSubTask(task: string, source: string, sub: SubTask): void {
    sourceUnit.set({ task, source, unit: sub.unit }, 1);
    for (const e of sub.result?.errors ?? []) taskErrors.set({ task, source, code: e.ErrCode }, 1);
    dumpRows.set({ task, source }, sub.dump.finishedRows);
    dumpBytes.set({ task, source }, sub.dump.finishedBytes);
    loadRows.set({ task, source }, sub.load.finishedRows);
    loadBytes.set({ task, source }, sub.load.finishedBytes);
    chunks.set({ task, source, state: 'planned' }, sub.dump.totalChunks);
    chunks.set({ task, source, state: 'dumped' }, sub.dump.completedChunks);
    chunks.set({ task, source, state: 'loaded' }, sub.load.completedChunks);
    const validation = 'validation' in sub ? sub.validation : undefined;
    if (validation) {
      validationRunning.set({ task, source }, validation.stage === 'Running' ? 1 : 0);
      validationPending.set({ task, source }, validation.pendingRows);
      validationLag.set({ task, source }, validation.lagSeconds);
      for (const [status, count] of Object.entries(validation.errorRows)) validationErrors.set({ task, source, status }, count);
    }
    const sync = 'sync' in sub ? sub.sync : undefined;
    if (!sync) return;
    if (sync.secondsBehindMaster !== null) lag.set({ task, source }, sync.secondsBehindMaster);
    synced.set({ task, source }, sync.synced ? 1 : 0);
    pending.set({ task, source }, sync.pendingBatches);
    events.set({ task, source }, sync.totalEvents);
    if (sync.recentTps !== undefined) tps.set({ task, source }, sync.recentTps);
    setPosition(task, source, 'master', sync.masterBinlog);
    setPosition(task, source, 'applied', sync.syncerBinlog);
    setPosition(task, source, 'read', sync.readBinlog);
  }

  async function refresh(): Promise<void> {
    register.resetMetrics();
    // Everything below is read from Redis, whose commands wait out an outage: the scrape would too.
    if (ctx.redis.status !== 'ready') return;
    for (const name of await ctx.registry.listTaskNames()) {
      const task = await ctx.registry.getTask(name);
      if (!task) continue;
      const status = await taskStatus(ctx, task);
      if ('stage' in status && status.stage) taskStage.set({ task: name, stage: status.stage }, 1);
      for (const source of status.sources) {
        for (const sub of source.subTaskStatus) setSubTask(name, source.sourceStatus.source, sub);
      }
      const diff = 'diff' in status ? status.diff : null;
      if (diff) {
        for (const outcome of ['equal', 'different', 'copying', 'missing', 'mismatch', 'failed'] as const) {
          diffTables.set({ task: name, outcome }, diff[outcome]);
        }
        diffTables.set(
          { task: name, outcome: 'pending' },
          diff.tables - diff.equal - diff.different - diff.copying - diff.missing - diff.mismatch - diff.failed,
        );
        diffRows.set({ task: name }, diff.differentRows);
        diffRunning.set({ task: name }, diff.state === 'running' ? 1 : 0);
      }
    }
    const queues = [...Object.values(STATIC_QUEUES), ...(await listActiveQueues(ctx.redis)).keys()];
    for (const queue of queues) {
      const counts = await ctx.queues.get(queue).getJobCounts(...QUEUE_STATES);
      for (const state of QUEUE_STATES) queueJobs.set({ queue, state }, counts[state] ?? 0);
    }
    const figures = await readFigures(ctx.redis);
    for (const [figure, target] of [
      ['apply_jobs', applyJobs],
      ['apply_batches', applyBatches],
      ['apply_rows', applyRows],
    ] as const) {
      for (const f of figures[figure]) target.set({ task: f.labels[0]!, source: f.labels[1]! }, f.value);
    }
    for (const f of figures.job_failures) jobFailures.set({ task: f.labels[0]!, unit: f.labels[1]!, code: f.labels[2]! }, f.value);
    for (const f of figures.apply_lock_conflicts)
      lockConflicts.set({ task: f.labels[0]!, source: f.labels[1]!, errno: f.labels[2]! }, f.value);
    applySeconds.values = histogramValues(
      figures.apply_seconds_buckets,
      new Map(figures.apply_seconds_sum.map((f) => [JSON.stringify(f.labels), f.value])),
    );
  }

  // Scrapes that arrive together share one refresh: a refresh resets every series first.
  let rendering: Promise<string> | undefined;
  return {
    contentType: register.contentType,
    render(): Promise<string> {
      rendering ??= refresh()
        .then(() => register.metrics())
        .finally(() => {
          rendering = undefined;
        });
      return rendering;
    },
  };
}

/** A gauge read from this process's state when scraped. */
function scrapedGauge(register: Registry, name: string, help: string, value: () => number): void {
  new Gauge({
    name,
    help,
    registers: [register],
    collect() {
      this.set(value());
    },
  });
}

/** This process's copy budget (DMQ_COPY_BUFFER_MIB), read when scraped. */
function copyBufferMetrics(register: Registry, ctx: ServiceContext): void {
  scrapedGauge(
    register,
    'dmq_copy_buffer_bytes',
    "Bytes of rows this process's direct copies hold now, read and not yet written",
    () => ctx.copyBudget.held,
  );
  scrapedGauge(
    register,
    'dmq_copy_buffer_peak_bytes',
    'The most bytes of rows they held at once since the process started: at most DMQ_COPY_BUFFER_MIB, unless one row was larger',
    () => ctx.copyBudget.peak,
  );
}

/** This process's view of Redis, read from its outage tracker when scraped. */
function redisMetrics(register: Registry, ctx: ServiceContext): void {
  const health = () => ctx.redisHealth.snapshot();
  scrapedGauge(register, 'dmq_redis_up', '1 while this process reaches Redis, 0 during an outage', () => (health().up ? 1 : 0));
  const total = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  total('dmq_redis_outages_total', 'Redis outages this process has seen (the current one included)', () => health().outages);
  total('dmq_redis_outage_seconds_total', 'Seconds this process has been without Redis', () => health().outageSeconds);
  total(
    'dmq_redis_reconnect_attempts_total',
    "Reconnect attempts of this process's main Redis connection",
    () => health().reconnectAttempts,
  );
}

/** Per-bucket counts of each (task, source) as Prometheus's cumulative `le` buckets, sum and count. */
function histogramValues(counts: { labels: string[]; value: number }[], sums: Map<string, number>) {
  const bySource = new Map<string, Map<string, number>>();
  for (const c of counts) {
    const key = JSON.stringify(c.labels.slice(0, 2));
    const buckets = bySource.get(key) ?? new Map<string, number>();
    buckets.set(c.labels[2]!, c.value);
    bySource.set(key, buckets);
  }
  const values: { labels: Record<string, string>; value: number; metricName: string }[] = [];
  for (const [key, buckets] of bySource) {
    const [task, source] = JSON.parse(key) as [string, string];
    let running = 0;
    for (const le of [...APPLY_SECONDS_BUCKETS.map(String), '+Inf']) {
      running += buckets.get(le) ?? 0;
      values.push({ labels: { task, source, le }, value: running, metricName: 'dmq_apply_seconds_bucket' });
    }
    values.push({ labels: { task, source }, value: sums.get(key) ?? 0, metricName: 'dmq_apply_seconds_sum' });
    values.push({ labels: { task, source }, value: running, metricName: 'dmq_apply_seconds_count' });
  }
  return values;
}
