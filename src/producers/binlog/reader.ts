import { createHash } from 'node:crypto';
import ZongJi from '@vlasky/zongji';
import type { RowDataPacket } from 'mysql2/promise';
import type { ApplyBatch, ApplyJob, BatchTable } from '../../shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { replaysAfterCopy, type InstanceConfig, type SourceConfig, type TaskConfig } from '../../shared/config/types.js';
import { finishSourceReplay } from '../../shared/task/progress.js';
import { readSourcePlans } from '../../shared/checkpoint/copy-checkpoint.js';
import { ensureMetaTables } from '../../shared/checkpoint/meta-schema.js';
import { readSourceSync, tableKey, writeGlobalCheckpoint } from '../../shared/checkpoint/sync-checkpoint.js';
import { DmqError, toErrorRecord } from '../../shared/errors.js';
import { makeTableFilter } from '../../shared/filter/block-allow.js';
import { makeEventFilter } from '../../shared/filter/binlog-event.js';
import { makeExtractor, makeRouter } from '../../shared/filter/route.js';
import { readDdl } from '../../shared/ddl/read-ddl.js';
import { readBinlogOps, type BinlogOp } from '../../shared/state/binlog-ops.js';
import { applyJobOptions, applyQueueName } from '../../shared/queue/queues.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { applyPartitions } from '../../shared/queue/task-queues.js';
import { groupIntoJobs } from './apply-jobs.js';
import { createBatcher, type Batcher, type TableMeta } from './batcher.js';
import { planDdl } from './ddl-plan.js';
import { transactionControl } from './transaction-control.js';
import { rowValues } from './row-values.js';

/** Failures only the operator can resolve: the task pauses instead of the reader retrying. */
const FATAL_CODES = new Set<string>(['CONFIG_INVALID', 'DDL_UNSUPPORTED', 'EVENT_FILTERED']);

/** Batches queued but not yet applied, above which the reader stops reading the binlog. */
const BACKLOG_HIGH = 5000;
const BACKLOG_LOW = 2500;
/** The same in row bytes, so big rows cannot fill Redis's memory before the count is reached. */
const BACKLOG_HIGH_BYTES = 256 << 20;
const BACKLOG_LOW_BYTES = 128 << 20;
const BATCH_ROWS = 500;
const BATCH_BYTES = 1 << 20;
const FLUSH_SPACING_MS = 10;
const FLUSH_SPACING_BEHIND_MS = 50;
/** Batches of one table read together share a job (one target transaction) up to these limits. */
const JOB_ROWS = 5000;
const JOB_BYTES = 4 << 20;
const HEARTBEAT_SECONDS = 1;
/** No event (not even a heartbeat) for this long means the connection died silently. */
const WATCHDOG_MS = 5000;

/** A table as the reader decodes it: the source's columns, then the route's extracted values. */
interface ReadTable extends TableMeta {
  sourceColumns: string[];
  extraValues: string[];
}

interface TxnTrack {
  start: BinlogCoord;
  /** Source time of the transaction (ms, whole seconds as the binlog keeps them). */
  eventTime: number;
  batches: { key: string; coord: BinlogCoord; bytes: number }[];
}

/** recentTps is the rate of transactions applied over about this window. */
const TPS_WINDOW_MS = 10_000;

export interface ReaderStatus {
  readCoord: string;
  masterCoord: string;
  appliedCoord: string;
  pendingBatches: number;
  pendingBytes: number;
  totalEvents: number;
  lastEventTime: number;
  /** Source time of the oldest transaction read but not yet applied (0: none). */
  oldestPendingTime: number;
  /** Source clock minus this process's clock (ms), so lag is measured on the source's clock. */
  clockOffsetMs: number;
  appliedTransactions: number;
  recentTps: number;
  /** When the source last sent anything, an event or a heartbeat (this process's clock). */
  heardAt: number;
  paused: boolean;
  error?: string;
}

export const syncStatusKey = (task: string, sourceId: string) => `dmq:sync:${task}:${sourceId}`;

/**
 * The same job cut again by a restarted reader gets the same id, which BullMQ deduplicates;
 * ids may not contain ':'.
 */
function applyJobId(job: ApplyJob): string {
  const table = createHash('sha1').update(`${job.schema}\u0000${job.table}`).digest('hex').slice(0, 16);
  const span = `${job.batches[0]!.coord}..${job.batches.at(-1)!.coord}`.replaceAll(':', '@');
  return `apply|${job.sourceId}|${table}|${span}`;
}

/** A replica server id for this (task, source): stable, and far from ids real servers use. */
export function readerServerId(task: string, sourceId: string): number {
  const hash = createHash('sha256').update(`${task}\u0000${sourceId}`).digest().readUInt32BE(0);
  return 0x40000000 + (hash % 0x3fffffff);
}

/** Where this reader starts: its checkpoint, else the copy's low watermark, else the task's meta. */
async function startPosition(
  ctx: ServiceContext,
  task: TaskConfig,
  instance: InstanceConfig,
): Promise<{ coord?: BinlogCoord; gtid?: string } | undefined> {
  const pool = ctx.pools.target(task);
  const meta = taskMeta(task);
  const sync = await readSourceSync(pool, meta, instance.sourceId);
  if (sync.global) return { coord: sync.global.coord };
  if (replaysAfterCopy(task.taskMode)) {
    const plan = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === instance.sourceId);
    if (!plan) return undefined;
    if (!plan.low) {
      throw new DmqError(
        'CONFIG_INVALID',
        `source "${instance.sourceId}" had binary logging off when the copy started, so there is no position to replicate from`,
        {
          where: `mysql-instances[${task.instances.indexOf(instance)}]`,
          workaround: 'enable log_bin with binlog_format=ROW on the source, then start the task again with --remove-meta',
        },
      );
    }
    return { coord: plan.low };
  }
  const m = instance.meta;
  if (m?.binlogName && m.binlogPos !== undefined) return { coord: { file: m.binlogName, pos: m.binlogPos } };
  if (m?.binlogGtid) return { gtid: m.binlogGtid };
  throw new DmqError(
    'CONFIG_INVALID',
    `task "${task.name}" is incremental but mysql-instances[${task.instances.indexOf(instance)}].meta gives no start position`,
    {
      where: `mysql-instances[${task.instances.indexOf(instance)}].meta`,
      workaround: 'set meta.binlog-name and meta.binlog-pos (or meta.binlog-gtid) to where replication should start',
    },
  );
}

/**
 * Reads one source's binlog for one task and queues per-table batches for the appliers. Runs
 * until stopped; errors restart it from its checkpoint with backoff.
 */
export function startBinlogReader(ctx: ServiceContext, task: TaskConfig, instance: InstanceConfig, source: SourceConfig) {
  const log = ctx.log.child({ task: task.name, source: source.sourceId, unit: 'sync' });
  const meta = taskMeta(task);
  const pool = ctx.pools.target(task);
  const filter = makeTableFilter(instance.blockAllowList, {
    caseSensitive: task.caseSensitive,
    onlyDbs: instance.mydumper.onlyDbs,
    onlyTables: instance.mydumper.onlyTables,
  });
  const route = makeRouter(instance.routes, task.caseSensitive);
  const extractColumns = makeExtractor(instance.routes, task.caseSensitive);
  const eventFilter = makeEventFilter(instance.filters, task.caseSensitive);
  const partitions = applyPartitions(task);

  let stopped = false;
  let zongji: ZongJi | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let backoffMs = 1000;
  const status: ReaderStatus = {
    readCoord: '',
    masterCoord: '',
    appliedCoord: '',
    pendingBatches: 0,
    pendingBytes: 0,
    totalEvents: 0,
    lastEventTime: 0,
    oldestPendingTime: 0,
    clockOffsetMs: 0,
    appliedTransactions: 0,
    recentTps: 0,
    heardAt: 0,
    paused: false,
  };
  const tpsSamples: { at: number; applied: number }[] = [];

  // State of one connection run, rebuilt at each (re)start from the checkpoints.
  let file = '';
  /** End of the last event read: where the next event starts. */
  let lastEnd = 0;
  let batcher: Batcher | undefined;
  let txn: TxnTrack | undefined;
  let tracks: TxnTrack[] = [];
  let lastCommit: BinlogCoord | undefined;
  let outbox: ApplyBatch[] = [];
  let flushScheduled = false;
  let lastFlushAt = 0;
  let lastEventAt = Date.now();
  let highWatermark: BinlogCoord | undefined;
  /** Full mode: where reading stops, and whether this source's replay has been declared done. */
  let endAt: BinlogCoord | undefined;
  let finished = false;
  const atEnd = () => endAt !== undefined && compareCoords({ file, pos: lastEnd }, endAt) >= 0;
  let startText = '';
  const tables = new Map<number, ReadTable | null>();
  /** What the operator decided for events this reader refused before (`binlog skip|replace`). */
  let readOps = new Map<string, BinlogOp>();
  /** Where each shard last joined or left its merged table in this run (see planDdl). */
  const shardChanges = new Map<string, string>();

  const partitionOf = (b: BatchTable) =>
    createHash('sha1').update(`${b.sourceId}\u0000${b.schema}\u0000${b.table}`).digest().readUInt32BE(0) % partitions;

  function enqueue(batches: ApplyBatch[]): void {
    if (batches.length === 0) return;
    for (const b of batches) {
      txn?.batches.push({ key: tableKey(b.schema, b.table), coord: parseCoordText(b.coord), bytes: b.bytes });
      status.pendingBytes += b.bytes;
      outbox.push(b);
    }
    status.pendingBatches += batches.length;
    // Hand batches to Redis once the current burst of events is decoded, but not more often
    // than every few milliseconds: a steady trickle of small transactions then still makes jobs
    // of many batches, and the spacing grows while the appliers have a backlog.
    if (!flushScheduled) {
      flushScheduled = true;
      const spacing = status.pendingBatches > BACKLOG_LOW / 5 ? FLUSH_SPACING_BEHIND_MS : FLUSH_SPACING_MS;
      setTimeout(
        () => {
          flushScheduled = false;
          lastFlushAt = Date.now();
          void flush();
        },
        Math.max(0, lastFlushAt + spacing - Date.now()),
      );
    }
    if ((status.pendingBatches >= BACKLOG_HIGH || status.pendingBytes >= BACKLOG_HIGH_BYTES) && !status.paused) {
      status.paused = true;
      zongji?.connection?.pause();
      log.info({ pending: status.pendingBatches, pendingBytes: status.pendingBytes }, 'backlog full: binlog reading paused');
    }
  }

  /**
   * Flushes run one after another: two overlapping runs could add a table's later batch before
   * its earlier one, and the applier would then wait on every batch behind it.
   */
  let flushing: Promise<void> = Promise.resolve();
  function flush(): Promise<void> {
    flushing = flushing.then(flushOutbox).catch(fail);
    return flushing;
  }

  async function flushOutbox(): Promise<void> {
    if (outbox.length === 0) return;
    const jobs = groupIntoJobs(outbox, { maxRows: JOB_ROWS, maxBytes: JOB_BYTES });
    outbox = [];
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

  /** Advance the global checkpoint past every transaction whose batches are all applied. */
  async function settle(): Promise<void> {
    const applied = (await readSourceSync(pool, meta, source.sourceId)).tables;
    const covered = (b: { key: string; coord: BinlogCoord }) => {
      const at = applied.get(b.key);
      return at !== undefined && compareCoords(at, b.coord) >= 0;
    };
    while (tracks.length > 0 && tracks[0] !== txn && tracks[0]!.batches.every(covered)) {
      tracks.shift();
      status.appliedTransactions += 1;
    }
    status.oldestPendingTime = tracks.find((t) => t.batches.some((b) => !covered(b)))?.eventTime ?? 0;
    const now = Date.now();
    tpsSamples.push({ at: now, applied: status.appliedTransactions });
    while (tpsSamples.length > 1 && now - tpsSamples[0]!.at > TPS_WINDOW_MS) tpsSamples.shift();
    const oldest = tpsSamples[0]!;
    status.recentTps = now > oldest.at ? Math.round(((status.appliedTransactions - oldest.applied) * 1000) / (now - oldest.at)) : 0;
    const resume = tracks[0]?.start ?? lastCommit;
    const uncovered = tracks.flatMap((t) => t.batches.filter((b) => !covered(b)));
    status.pendingBatches = uncovered.length;
    status.pendingBytes = uncovered.reduce((n, b) => n + b.bytes, 0);
    if (resume) {
      await writeGlobalCheckpoint(pool, meta, source.sourceId, resume, null);
      status.appliedCoord = coordText(resume);
    }
    if (atEnd() && !finished && status.pendingBatches === 0 && !txn) {
      finished = true;
      log.info({ at: status.appliedCoord }, 'full mode: the changes made during the copy are applied up to the high watermark');
      await finishSourceReplay(ctx, task, source.sourceId);
    }
    if (status.paused && status.pendingBatches <= BACKLOG_LOW && status.pendingBytes <= BACKLOG_LOW_BYTES) {
      status.paused = false;
      // The watchdog measures silence since reading resumed, not since it paused.
      lastEventAt = Date.now();
      zongji?.connection?.resume();
      log.info({ pending: status.pendingBatches }, 'backlog drained: binlog reading resumed');
    }
  }

  async function tick(): Promise<void> {
    try {
      await flush();
      await settle();
      if (!status.paused && zongji && Date.now() - lastEventAt > WATCHDOG_MS) {
        throw new DmqError('BINLOG_FAILED', `no binlog event or heartbeat from source "${source.sourceId}" for ${WATCHDOG_MS} ms`, {
          workaround: 'dmq reconnects by itself; check the network to the source if this repeats',
        });
      }
      await ctx.redis.set(syncStatusKey(task.name, source.sourceId), JSON.stringify(status), 'EX', 60);
    } catch (err) {
      fail(err);
    }
  }

  function tableMeta(
    ev: {
      tableId: number;
      tableMap: Record<number, { parentSchema: string; tableName: string; columns?: { name: string; type: number }[] }>;
    },
    tm?: { primaryKey?: number[]; columnNames?: string[] },
  ): ReadTable | null {
    const cached = tables.get(ev.tableId);
    if (cached !== undefined) return cached;
    const entry = ev.tableMap[ev.tableId];
    if (!entry) return null;
    if (!filter.table(entry.parentSchema, entry.tableName)) {
      tables.set(ev.tableId, null);
      return null;
    }
    const columns = (entry.columns ?? []).map((c) => c.name);
    if (columns.includes('__proto__')) {
      // zongji builds rows as plain objects and loses this column: refuse rather than write NULL.
      fail(
        new DmqError(
          'CONFIG_INVALID',
          `\`${entry.parentSchema}\`.\`${entry.tableName}\` has a column named __proto__, which dmq's binlog reader cannot decode`,
          {
            where: `\`${entry.parentSchema}\`.\`${entry.tableName}\``,
            workaround: 'rename the column on the source, or leave the table out with block-allow-list',
          },
        ),
      );
      tables.set(ev.tableId, null);
      return null;
    }
    // Rows of a merged table are told apart by the values the route extracts, as DM does.
    const extra = extractColumns(source.sourceId, entry.parentSchema, entry.tableName);
    const primaryKey = (tm?.primaryKey ?? []).map((i) => columns[i]!).filter((c) => c !== undefined);
    const meta: ReadTable = {
      schema: entry.parentSchema,
      table: entry.tableName,
      target: route(entry.parentSchema, entry.tableName),
      columns: [...columns, ...extra.map((c) => c.column)],
      key: primaryKey.length > 0 ? [...primaryKey, ...extra.map((c) => c.column)] : [],
      sourceColumns: columns,
      extraValues: extra.map((c) => c.value),
    };
    tables.set(ev.tableId, meta);
    return meta;
  }

  const columnTypes = new Map<number, number[]>();
  const primaryKeys = new Map<number, { primaryKey?: number[]; columnNames?: string[] }>();

  function onEvent(ev: Record<string, unknown> & { getEventName(): string; nextPosition: number; timestamp: number; gtid?: string }): void {
    lastEventAt = Date.now();
    status.heardAt = lastEventAt;
    // Events flow again: the next failure starts its backoff from the beginning.
    backoffMs = 1000;
    // Full mode reads nothing the copy's high watermark does not cover.
    if (atEnd()) return;
    handleEvent(ev);
    // A refused event stops the reader where it is: nothing after it counts as read.
    if (restarting) return;
    if (ev.nextPosition > 0 && ev.getEventName() !== 'heartbeat') {
      lastEnd = ev.nextPosition;
      // Outside a transaction every event end is a safe place to resume (and to call synced).
      if (!txn && file !== '') lastCommit = { file, pos: ev.nextPosition };
    }
  }

  function handleEvent(
    ev: Record<string, unknown> & { getEventName(): string; nextPosition: number; timestamp: number; gtid?: string },
  ): void {
    const name = ev.getEventName();
    const here = (): BinlogCoord => ({ file, pos: ev.nextPosition });
    switch (name) {
      case 'rotate': {
        file = String(ev.binlogName);
        lastEnd = Number(ev.position);
        return;
      }
      case 'heartbeat': {
        status.masterCoord = coordText({ file: String(ev.binlogName ?? file), pos: ev.nextPosition });
        return;
      }
      case 'mariadbgtid':
      case 'gtid':
      case 'anonymousgtid': {
        // The transaction starts where the previous event ended: a boundary the server accepts.
        txn = { start: { file, pos: lastEnd }, eventTime: ev.timestamp, batches: [] };
        tracks.push(txn);
        return;
      }
      case 'tablemap': {
        const id = Number(ev.tableId);
        if (!Array.isArray(ev.columnNames) || ev.columnNames.length !== Number(ev.columnCount)) {
          fail(
            new DmqError(
              'CONFIG_INVALID',
              `the binlog of source "${source.sourceId}" carries no column names for \`${String(ev.schemaName)}\`.\`${String(ev.tableName)}\` at ${coordText(here())}`,
              {
                where: coordText(here()),
                workaround: 'SET GLOBAL binlog_row_metadata = FULL on the source (MySQL 8.0+ / MariaDB 10.5+), then resume the task',
              },
            ),
          );
          return;
        }
        tables.delete(id);
        columnTypes.set(id, ev.columnTypes as number[]);
        primaryKeys.set(id, { primaryKey: ev.primaryKey as number[] | undefined, columnNames: ev.columnNames as string[] });
        return;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        status.totalEvents += 1;
        const id = Number(ev.tableId);
        const table = tableMeta(ev as never, primaryKeys.get(id));
        if (!table || !batcher) return;
        const types = columnTypes.get(id) ?? [];
        const op = name === 'writerows' ? 'insert' : name === 'updaterows' ? 'update' : 'delete';
        if (!passesEventFilter(table, op, here())) return;
        const decode = (row: Record<string, unknown>) => [...rowValues(row, table.sourceColumns, types), ...table.extraValues];
        const rows = (ev.rows as Record<string, unknown>[]).map((r) => {
          if (op === 'update') {
            const u = r as { before: Record<string, unknown>; after: Record<string, unknown> };
            return { before: decode(u.before), after: decode(u.after) };
          }
          const values = decode(r);
          return op === 'insert' ? { after: values } : { before: values };
        });
        enqueue(batcher.rows({ table, op, rows, coord: here(), eventTime: ev.timestamp, gtid: ev.gtid ?? null }));
        status.lastEventTime = ev.timestamp;
        status.readCoord = coordText(here());
        return;
      }
      case 'xid':
      case 'query': {
        const statement = name === 'query' ? String(ev.query).trim() : 'COMMIT';
        const control = transactionControl(statement);
        // MySQL opens each transaction with a BEGIN query; savepoints live inside one.
        if (control === 'begin' || control === 'savepoint') return;
        // A commit, or a DDL (its own transaction), ends the transaction.
        if (batcher) enqueue(batcher.commit());
        if (control !== 'end') readStatement(statement, String(ev.schema ?? ''), here(), ev.timestamp, ev.gtid ?? null);
        if (restarting) return;
        lastCommit = here();
        txn = undefined;
        status.readCoord = coordText(here());
        return;
      }
      default:
        return;
    }
  }

  /** Stops reading at `coord` and pauses the task: the operator decides, with `binlog skip|replace`. */
  function refuse(code: 'DDL_UNSUPPORTED' | 'EVENT_FILTERED', reason: string, coord: string, statement?: string): void {
    const shown = statement === undefined ? '' : ` The statement: ${statement.length > 500 ? `${statement.slice(0, 500)}…` : statement}`;
    const binlogOps = `\`dmq binlog skip ${task.name} -b ${coord} -s ${source.sourceId}\` to leave it out${statement === undefined ? '' : `, or \`dmq binlog replace ${task.name} -b ${coord} -s ${source.sourceId} "<statements the source should have run>"\` to read those instead`}`;
    fail(
      new DmqError(code, `source "${source.sourceId}" at ${coord}: ${reason}.${shown}`, {
        where: coord,
        workaround:
          code === 'EVENT_FILTERED' ? `change the filter rule (stop-task, edit task.yaml, start-task), or ${binlogOps}` : binlogOps,
      }),
    );
  }

  function passesEventFilter(table: TableMeta, op: string, coord: BinlogCoord): boolean {
    const at = coordText(coord);
    if (readOps.get(at)?.op === 'skip') {
      log.info({ at, table: `${table.schema}.${table.table}`, op }, 'row event left out by the operator (binlog skip)');
      return false;
    }
    // The filter caches which rules apply to a table; judging them is a few comparisons.
    const verdict = eventFilter({ schema: table.schema, table: table.table, event: op });
    if (verdict.action === 'Error')
      refuse('EVENT_FILTERED', `filter rule "${verdict.rule}" forbids ${op} on \`${table.schema}\`.\`${table.table}\``, at);
    return verdict.action === 'Do';
  }

  /**
   * A statement other than a transaction's begin or end: DDL to replicate, DDL to skip with a
   * record, or a statement dmq cannot handle, which pauses the task at its position.
   */
  function readStatement(statement: string, defaultSchema: string, coord: BinlogCoord, eventTime: number, gtid: string | null): void {
    if (!batcher) return;
    const at = coordText(coord);
    const op = readOps.get(at);
    if (op?.op === 'skip') {
      log.info({ at, statement: statement.slice(0, 500) }, 'statement left out by the operator (binlog skip)');
      return;
    }
    const texts = op?.op === 'replace' ? op.sqls : [statement];
    // Statements of one event share its position; parts keep them in order within a table.
    let part = 0;
    for (const text of texts) {
      const reading = readDdl(text, defaultSchema);
      if (reading.type === 'skip') {
        log.info({ at, statement: text.slice(0, 500), reason: reading.reason }, 'DDL skipped: not about data');
        continue;
      }
      if (reading.type === 'unreadable') {
        refuse('DDL_UNSUPPORTED', `dmq cannot read this statement (${reading.reason})`, at, text);
        return;
      }
      for (const ddl of reading.statements) {
        const ddlCoord: BinlogCoord = part === 0 ? coord : { ...coord, part };
        part += 1;
        const plan = planDdl(ddl, coordText(ddlCoord), {
          filter,
          route,
          eventFilter,
          shardMode: task.shardMode,
          lastOf: batcher.lastOf,
          streams: batcher.streams,
          lastShardChange: (schema, table) => shardChanges.get(tableKey(schema, table)),
        });
        if (plan.action === 'skip') {
          log.info({ at, statement: ddl.text.slice(0, 500), reason: plan.reason }, 'DDL skipped');
          continue;
        }
        if (plan.action === 'refuse') {
          refuse(plan.code, plan.reason, at, ddl.text);
          return;
        }
        enqueue(batcher.ddl({ barriers: plan.barriers, coord: ddlCoord, eventTime, gtid }));
        for (const u of plan.barriers)
          if (u.ddl.shard === 'join' || u.ddl.shard === 'leave')
            shardChanges.set(tableKey(u.table.schema, u.table.table), coordText(ddlCoord));
        log.info({ at, statement: ddl.text.slice(0, 500), target: plan.barriers[0]!.ddl.target }, 'DDL read');
      }
    }
  }

  let restarting = false;
  /** Stopped for good after pausing the task; only a new reader continues. */
  let ended = false;

  function fail(err: unknown): void {
    // One failure restarts the reader once; errors from the stream being torn down are echoes.
    if (stopped || restarting) return;
    restarting = true;
    const record = toErrorRecord(err);
    status.error = record.message;
    log.warn({ err: record }, 'binlog reader failed; restarting from the checkpoint');
    // A purged or wrong position, or a source or task setting only the user can change: retrying
    // cannot help, so the task pauses and says what to do.
    const fatal = (err as { errno?: number }).errno === 1236 || (err instanceof DmqError && FATAL_CODES.has(err.code));
    void disconnect().then(async () => {
      if (fatal) {
        const { pauseTask } = await import('../../shared/task/control.js');
        const reason =
          err instanceof DmqError
            ? err
            : new DmqError(
                'BINLOG_FAILED',
                `source "${source.sourceId}" cannot serve its binlog from ${status.appliedCoord || startText}: ${record.message}`,
                {
                  cause: err,
                  where: status.appliedCoord || startText,
                  workaround:
                    'the binlog there was purged or never existed: keep binlogs longer (expire_logs_days / binlog_expire_logs_seconds) and start the task again with --remove-meta (or a valid meta position)',
                },
              );
        await pauseTask(ctx, task.name, reason).catch((pauseErr: unknown) =>
          log.error({ err: pauseErr, reason: record }, 'cannot pause the task'),
        );
        // The task may be resumed before the supervisor ever sees it paused: it starts a new reader then.
        ended = true;
        return;
      }
      if (restartTimer) clearTimeout(restartTimer);
      restartTimer = setTimeout(() => {
        restarting = false;
        void connect();
      }, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    });
  }

  async function sourceClockOffset(): Promise<number> {
    const before = Date.now();
    const [rows] = await ctx.pools.source(task, source).query<RowDataPacket[]>('SELECT UNIX_TIMESTAMP(NOW(3)) * 1000 AS t');
    const after = Date.now();
    return Math.round(Number(rows[0]!.t) - (before + after) / 2);
  }

  async function disconnect(): Promise<void> {
    const z = zongji;
    zongji = undefined;
    if (!z) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      z.once('stopped', () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        z.stop();
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    await disconnect();
    try {
      await ensureMetaTables(pool, meta);
      const start = await startPosition(ctx, task, instance);
      if (!start) {
        restartTimer = setTimeout(() => void connect(), 1000);
        return;
      }
      status.clockOffsetMs = await sourceClockOffset();
      const plan = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === source.sourceId);
      highWatermark = plan?.high ?? undefined;
      endAt = task.taskMode === 'full' ? highWatermark : undefined;
      if (task.taskMode === 'full' && !endAt) {
        throw new DmqError(
          'INTERNAL',
          `source "${source.sourceId}" has no high watermark recorded, so full mode does not know where its replay ends`,
          {
            workaround: 'start the task again with --remove-meta; please report it',
          },
        );
      }
      const applied = (await readSourceSync(pool, meta, source.sourceId)).tables;
      readOps = await readBinlogOps(ctx.redis, task.name, source.sourceId, 'read');
      // From a GTID the first position is not known yet; an empty file name orders before any real one.
      const origin = start.coord ?? { file: '', pos: 0 };
      batcher = createBatcher({
        task: task.name,
        sourceId: source.sourceId,
        maxRows: BATCH_ROWS,
        maxBytes: BATCH_BYTES,
        applied,
        origin,
        startIfMissing: task.taskMode === 'incremental',
        safeAt: (coord) =>
          instance.syncer.safeMode || (replaysAfterCopy(task.taskMode) && (!highWatermark || compareCoords(coord, highWatermark) < 0)),
      });
      tracks = [];
      txn = undefined;
      lastCommit = start.coord;
      tables.clear();
      shardChanges.clear();
      file = start.coord?.file ?? '';
      lastEnd = start.coord?.pos ?? 4;
      const z = new ZongJi({ ...source.from, dateStrings: true, timezone: 'Z', jsonStrings: true } as never);
      zongji = z;
      // A stopped reader may still decode buffered events: only the current one counts.
      z.on('binlog', (ev: unknown) => {
        if (zongji === z) onEvent(ev as Parameters<typeof onEvent>[0]);
      });
      z.on('error', (err: unknown) => {
        if (zongji !== z) return;
        // The control connection closing on its own is harmless while events still flow.
        if ((err as { code?: string }).code === 'ECONNRESET' && Date.now() - lastEventAt < WATCHDOG_MS) return;
        fail(err);
      });
      const options: Record<string, unknown> = { serverId: source.serverId ?? readerServerId(task.name, source.sourceId) };
      if (start.gtid !== undefined) options.gtidSet = start.gtid;
      else {
        options.filename = start.coord!.file;
        options.position = start.coord!.pos;
      }
      lastEventAt = Date.now();
      z.start(options);
      // Queued before the dump request: a heartbeat every second shows a live but idle source,
      // and a long write timeout survives dmq pausing the stream for back-pressure.
      z.connection?.query(`SET @master_heartbeat_period = ${HEARTBEAT_SECONDS * 1e9}`);
      z.connection?.query('SET SESSION net_write_timeout = 86400');
      delete status.error;
      startText = start.coord ? coordText(start.coord) : `GTID ${start.gtid}`;
      log.info({ from: startText }, 'binlog reader started');
    } catch (err) {
      fail(err);
    }
  }

  void connect();
  tickTimer = setInterval(() => void tick(), 500);

  return {
    status: () => status,
    ended: () => ended,
    async stop(): Promise<void> {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (tickTimer) clearInterval(tickTimer);
      await disconnect();
      await flush();
    },
  };
}
