import type ZongJi from '@vlasky/zongji';
import type { ApplyBatch } from '../../shared/binlog/batch.js';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { ensureMetaTables } from '../../shared/checkpoint/meta-schema.js';
import { raiseReaderFence, readReaderFence } from '../../shared/checkpoint/reader-fence.js';
import { readSyncPositions } from '../../shared/checkpoint/lane-checkpoint.js';
import { writeGlobalCheckpoint } from '../../shared/checkpoint/sync-checkpoint.js';
import { formatGtidSet, gtidInSet, parseGtidSet } from '../../shared/binlog/gtid-set.js';
import { loadOnlineDdl, pruneOnlineDdl, saveOnlineDdl, shadowKey } from '../../shared/checkpoint/online-ddl-store.js';
import { applyLanes } from '../../shared/queue/task-queues.js';
import type { InstanceConfig, SourceConfig, TableRef, TaskConfig } from '../../shared/config/types.js';
import { replaysAfterCopy } from '../../shared/task/stages.js';
import { DmqError, pausesTaskAtOnce, toErrorRecord } from '../../shared/errors.js';
import { tlsFailure } from '../../shared/sql/tls.js';
import { pauseTask } from '../../shared/task/control.js';
import { binlogOpsKey, binlogOpsOf, readBinlogOps, type BinlogOp } from '../../shared/state/binlog-ops.js';
import { rereadDoneKey, rereadKey, type RereadDone } from '../../shared/state/reread.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { finishSourceReplay } from '../../shared/task/progress.js';
import { createApplySink } from './apply-sink.js';
import { appliersBehind, backlogDrained, backlogFull } from './back-pressure.js';
import { createBatcher } from './batcher.js';
import {
  createBinlogStream,
  forgetTableColumns,
  readerServerId,
  sourceClockOffset,
  startBinlogStream,
  stopBinlogStream,
  type BinlogEvent,
} from './binlog-stream.js';
import { createEventReader, readRules, type EventReader } from './event-reader.js';
import { syncStatusKey, type ReaderStatus } from './reader-status.js';
import { executedGtid, followServer, gtidSetBefore, switchedTables, type ReadServer } from './reader-server.js';
import { serverIdentity } from './server-switch.js';
import { replayBounds, startPosition } from './start-position.js';
import { createOnlineDdl, type OnlineDdl } from './online-ddl.js';
import { createTransactionLedger } from './transaction-ledger.js';
import { createUniqueKeys } from './unique-keys.js';
import { createSchemaTracker, untrackedTable } from './schema-tracker.js';
import { disagreement, zongjiColumnSchemas } from '../../shared/schema/tracked-table.js';

const BATCH_ROWS = 500;
const BATCH_BYTES = 1 << 20;
/** No event (not even a heartbeat) for this long means the connection died silently. */
const WATCHDOG_MS = 5000;
/**
 * While reading is paused, how often the checkpoints are read to see whether it may go on: the
 * appliers may drain the low mark's backlog well within a tick, and would then stand idle.
 */
const DRAIN_POLL_MS = 100;

/** What the supervisor tells a reader about its Redis lease. */
export interface ReaderLease {
  /** Who holds it, as the lease key says (host/pid/id), recorded with the fencing epoch. */
  owner: string;
  /** Whether the lease is surely still this process's, by the local clock. */
  valid(): boolean;
}

/**
 * Reads one source's binlog for one task and queues per-table batches for the appliers. Runs
 * until stopped; errors restart it from its checkpoint with backoff. This loop owns the
 * connection; what an event means is the event reader's, what is applied the ledger's.
 */
export function startBinlogReader(
  ctx: ServiceContext,
  task: TaskConfig,
  instance: InstanceConfig,
  source: SourceConfig,
  lease: ReaderLease,
) {
  const log = ctx.log.child({ task: task.name, source: source.sourceId, unit: 'sync' });
  const meta = taskMeta(task);
  // Asked for at each use, not kept: a resume closes the task's pools so that new sessions see
  // what the operator changed on the target, and the reader must not hold a closed one.
  const pool = () => ctx.pools.target(task);
  const rules = readRules(task, instance, source);
  const sink = createApplySink(
    ctx,
    task,
    fail,
    () => !deposed(),
    () => resumeIfDrained(),
  );
  const ledger = createTransactionLedger();
  const uniqueKeys = createUniqueKeys(() => ctx.pools.source(task, source), pool, rules.route, log);
  const schemas = createSchemaTracker({
    sourceId: source.sourceId,
    task,
    instance,
    meta,
    filter: rules.trackedFilter,
    target: pool,
    source: () => ctx.pools.source(task, source),
    log,
  });

  let stopped = false;
  let zongji: ZongJi | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let backoffMs = 1000;
  const status: ReaderStatus = {
    readCoord: '',
    masterCoord: '',
    appliedCoord: '',
    pendingBatches: 0,
    pendingBytes: 0,
    pendingTransactions: 0,
    totalEvents: 0,
    lastEventTime: 0,
    oldestPendingTime: 0,
    clockOffsetMs: 0,
    appliedTransactions: 0,
    recentTps: 0,
    heardAt: 0,
    paused: false,
  };
  /** The reading of the current connection (or the last one, until the next starts). */
  let events: EventReader | undefined;
  /** With `online-ddl`: the shadow tables' ALTERs the current connection knows (online-ddl.ts). */
  let onlineDdl: OnlineDdl | undefined;
  /** Shadow tables whose records their last reset made obsolete, pruned once the global checkpoint passes it. */
  const resetShadows = new Map<string, { shadow: TableRef; at: BinlogCoord }>();
  let lastEventAt = Date.now();
  /** Full mode: whether this source's replay has been declared done. */
  let finished = false;
  let startText = '';
  let restarting = false;
  /** Stopped for good after pausing the task or losing the lease; only a new reader continues. */
  let ended = false;
  /** This connection's fencing epoch, raised on the target before it reads the checkpoints. */
  let epoch = 0;
  /** The server this connection reads, which the global checkpoint's coordinates are of. */
  let server: ReadServer | undefined;
  /** What the operator decided for events ahead of or at the reader (`binlog skip|replace|inject`), kept current. */
  const readOps = new Map<string, BinlogOp>();

  /**
   * Whether the lease is gone (a pause or a Redis outage longer than the lease): then the reader
   * stops at once, before it reconnects (its server_id would kill the new reader's binlog dump)
   * or queues anything more. Asked before every step that reaches out.
   */
  function deposed(): boolean {
    if (lease.valid()) return false;
    if (!ended) {
      ended = true;
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (tickTimer) clearInterval(tickTimer);
      clearInterval(drainTimer);
      void disconnect();
      log.warn({ owner: lease.owner, epoch }, 'binlog reader stepped down: its lease is gone');
    }
    return true;
  }

  function enqueue(batches: ApplyBatch[]): void {
    if (batches.length === 0) return;
    ledger.add(batches);
    sink.push(batches, appliersBehind(ledger.backlog()));
    holdBack();
  }

  /** Pauses reading while the ledger holds too many batches, bytes or transactions. */
  function holdBack(): void {
    const backlog = ledger.backlog();
    if (status.paused || !backlogFull(backlog, sink.heldBytes())) return;
    status.paused = true;
    zongji?.connection?.pause();
    // A failing settle is reported by the tick, which runs one too.
    drainTimer ??= setInterval(() => {
      if (!deposed()) void settleInTurn().catch(() => undefined);
    }, DRAIN_POLL_MS);
    log.info(
      { pending: backlog.pendingBatches, pendingBytes: backlog.pendingBytes, pendingTransactions: backlog.pendingTransactions },
      'backlog full: binlog reading paused',
    );
  }

  /**
   * Settles run one after another: one that read older checkpoints must not write the global
   * checkpoint after a newer one.
   */
  let settling: Promise<void> = Promise.resolve();
  function settleInTurn(): Promise<void> {
    const run = settling.then(settle);
    settling = run.catch(() => undefined);
    return run;
  }

  /** Advance the global checkpoint past every transaction whose batches are all applied. */
  async function settle(): Promise<void> {
    const applied = await readSyncPositions(pool(), meta, source.sourceId);
    const { resume, resumeGtid, figures } = ledger.settle(applied.tables, Date.now(), applied.lanes);
    Object.assign(status, figures);
    if (resume && server) {
      // A reader resuming there must find the definitions of every DDL before it, and what the
      // shadow tables' ALTERs were: both are written before the checkpoint may pass them.
      await schemas.flushed();
      await saveOnlineDdlRecords();
      await writeGlobalCheckpoint(pool(), meta, source.sourceId, { coord: resume, gtid: resumeGtid ?? null, server: server.key });
      status.appliedCoord = coordText(resume);
      status.appliedGtid = resumeGtid ?? '';
      for (const [key, { shadow, at }] of resetShadows) {
        if (compareCoords({ file: at.file, pos: at.pos }, resume) > 0) continue;
        await pruneOnlineDdl(pool(), meta, source.sourceId, shadow, resume);
        resetShadows.delete(key);
      }
    }
    if (events?.atEnd() && !finished && status.pendingBatches === 0 && !ledger.inTransaction()) {
      finished = true;
      log.info({ at: status.appliedCoord }, 'full mode: the changes made during the copy are applied up to the high watermark');
      await finishSourceReplay(ctx, task, source.sourceId);
    }
    // Transactions without a batch of a migrated table (other tables') pass no enqueue.
    holdBack();
    resumeIfDrained();
  }

  /** After a settle or a flush: paused reading goes on once both Redis's share and this process's are low. */
  function resumeIfDrained(): void {
    if (!status.paused || !backlogDrained(ledger.backlog(), sink.heldBytes())) return;
    status.paused = false;
    clearInterval(drainTimer);
    drainTimer = undefined;
    // The watchdog measures silence since reading resumed, not since it paused.
    lastEventAt = Date.now();
    zongji?.connection?.resume();
    log.info({ pending: status.pendingBatches }, 'backlog drained: binlog reading resumed');
  }

  /** Writes every record read so far, including any read after the checkpoint about to be written was computed. */
  async function saveOnlineDdlRecords(): Promise<void> {
    const online = onlineDdl;
    if (!online) return;
    const records = [...online.unsaved()];
    if (records.length === 0) return;
    await saveOnlineDdl(pool(), meta, source.sourceId, records);
    online.saved(records.length);
    for (const r of records) if (r.kind === 'reset') resetShadows.set(shadowKey(r.shadow), { shadow: r.shadow, at: r.coord });
  }

  /**
   * A reader that lost its lease while it was connecting (a process paused, then resumed) may
   * raise the fence after this one did, just before it notices and steps down: every batch this
   * reader cuts would be refused from then on. Reconnecting raises the fence above it again.
   */
  async function checkFence(): Promise<void> {
    if (epoch === 0) return;
    const fence = await readReaderFence(pool(), meta, source.sourceId);
    if (fence <= epoch) return;
    throw new DmqError(
      'BINLOG_FAILED',
      `a reader of source "${source.sourceId}" that lost its lease raised the fence to ${fence} after this one (${epoch}) connected: reconnecting`,
      {
        where: status.appliedCoord || startText,
        workaround: 'nothing to do: this reader reconnects and raises the fence again',
      },
    );
  }

  async function tick(): Promise<void> {
    if (deposed()) return;
    try {
      await sink.flush();
      await settleInTurn();
      await uniqueKeys.refresh();
      await checkFence();
      if (source.enableGtid && server) status.masterGtid = await executedGtid(ctx.pools.source(task, source), server.flavor);
      if (!status.paused && zongji && Date.now() - lastEventAt > WATCHDOG_MS) {
        throw new DmqError('BINLOG_FAILED', `no binlog event or heartbeat from source "${source.sourceId}" for ${WATCHDOG_MS} ms`, {
          workaround: 'dmq reconnects by itself; check the network to the source if this repeats',
        });
      }
      // One round trip per tick: the status out, whether an applier asks for a re-read, and the
      // operator's binlog operations.
      const replies = await ctx.redis
        .pipeline()
        .set(syncStatusKey(task.name, source.sourceId), JSON.stringify(status), 'EX', 60)
        .get(rereadKey(task.name, source.sourceId))
        .hgetall(binlogOpsKey(task.name))
        .exec();
      for (const [err] of replies ?? []) if (err) throw err;
      await rereadIfAsked((replies?.[1]?.[1] as string | null | undefined) ?? null);
      refreshReadOps((replies?.[2]?.[1] as Record<string, string> | undefined) ?? {});
    } catch (err) {
      fail(err);
    }
  }

  /**
   * An applier misses a batch at or before the position asked for. Once this run has read past it, the
   * batch was handed on and lost since: read again from the checkpoint, which cuts the same
   * batches, so the missing job comes back and every other one is deduplicated or skipped as
   * covered. Before that, the run itself will hand the batch on; the request stays, and the
   * applier renews it while its table waits.
   */
  async function rereadIfAsked(asked: string | null): Promise<void> {
    if (asked === null || restarting || !ledger.readPast(parseCoordText(asked))) return;
    await ctx.redis.del(rereadKey(task.name, source.sourceId));
    const done: RereadDone = { at: asked, time: Date.now() };
    await ctx.redis.set(rereadDoneKey(task.name, source.sourceId), JSON.stringify(done), 'EX', 3600);
    throw new DmqError(
      'APPLY_GAP',
      `an applier misses a batch at or before ${asked}: reading the binlog again from ${status.appliedCoord || startText}`,
      {
        where: asked,
        workaround: 'nothing to do: the batch is cut again',
      },
    );
  }

  /** Makes `fresh` the operations the event reader consults; the coordinates whose operation changed. */
  function takeReadOps(fresh: Map<string, BinlogOp>): string[] {
    const changed = [...new Set([...fresh.keys(), ...readOps.keys()])].filter(
      (coord) => JSON.stringify(fresh.get(coord)) !== JSON.stringify(readOps.get(coord)),
    );
    readOps.clear();
    for (const [coord, op] of fresh) readOps.set(coord, op);
    return changed;
  }

  /**
   * `binlog inject|revert` at a position ahead changes what the reader does there while it runs.
   * The operator's request raised the fence first, so batches this run cut are refused: the
   * reader reads again from its checkpoint with the new operations (and a new epoch).
   */
  function refreshReadOps(all: Record<string, string>): void {
    if (events === undefined) return;
    const changed = takeReadOps(binlogOpsOf(all, source.sourceId, 'read'));
    if (changed.length === 0 || restarting) return;
    throw new DmqError(
      'BINLOG_FAILED',
      `the binlog operations at ${changed.join(', ')} changed: reading again from ${status.appliedCoord || startText}`,
      { where: changed[0]!, workaround: 'nothing to do: the events from there are read again with the operations' },
    );
  }

  function onEvent(ev: BinlogEvent): void {
    lastEventAt = Date.now();
    status.heardAt = lastEventAt;
    // Events flow again: the next failure starts its backoff from the beginning.
    backoffMs = 1000;
    events?.read(ev);
  }

  function fail(err: unknown): void {
    // One failure restarts the reader once; errors from the stream being torn down are echoes.
    if (stopped || restarting) return;
    restarting = true;
    const record = toErrorRecord(err);
    status.error = record.message;
    log.warn({ err: record }, 'binlog reader failed; restarting from the checkpoint');
    // A purged or wrong position, or a source or task setting only the user can change: retrying
    // cannot help, so the task pauses and says what to do.
    const fatal = pausesTaskAtOnce(err, 'binlog-reader');
    void disconnect().then(async () => {
      if (fatal) {
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

  async function disconnect(): Promise<void> {
    const z = zongji;
    zongji = undefined;
    if (z) await stopBinlogStream(z);
  }

  async function connect(): Promise<void> {
    if (stopped || deposed()) return;
    await disconnect();
    try {
      await ensureMetaTables(pool(), meta);
      // Before anything is read: jobs of earlier readers that have not committed by now are
      // refused, and what they held is read again from the checkpoints below.
      epoch = await raiseReaderFence(pool(), meta, source.sourceId, lease.owner);
      // Until this connection has read anything, the global checkpoint is not this server's to write.
      server = undefined;
      const here = await serverIdentity(ctx.pools.source(task, source));
      const moved = await followServer(ctx, task, source, meta, here);
      if (moved)
        log.warn(
          { from: moved.from, to: here.key, gtid: moved.gtid },
          'source switched to another server: checkpoints rebased on their GTID sets',
        );
      const start = await startPosition(ctx, task, instance);
      if (!start) {
        restartTimer = setTimeout(() => void connect(), 1000);
        return;
      }
      status.clockOffsetMs = await sourceClockOffset(ctx.pools.source(task, source));
      const { highWatermark, endAt } = await replayBounds(pool(), meta, task, source.sourceId);
      const applied = await readSyncPositions(pool(), meta, source.sourceId);
      const gtidStart = source.enableGtid ? await gtidSetBefore(ctx.pools.source(task, source), start, here.flavor) : undefined;
      const highGtid = source.enableGtid && highWatermark?.gtid ? parseGtidSet(highWatermark.gtid, here.flavor) : undefined;
      await uniqueKeys.load();
      await schemas.load(start.coord);
      takeReadOps(await readBinlogOps(ctx.redis, task.name, source.sourceId, 'read'));
      const batcher = createBatcher({
        task: task.name,
        sourceId: source.sourceId,
        maxRows: BATCH_ROWS,
        maxBytes: BATCH_BYTES,
        applied: applied.tables,
        appliedLanes: applied.lanes,
        lanes: applyLanes(task, instance),
        uniqueKeys: uniqueKeys.of,
        schemaChanged: uniqueKeys.changed,
        // From a GTID the first position is not known yet; an empty file name orders before any real one.
        origin: start.coord ?? { file: '', pos: 0 },
        startIfMissing: task.taskMode === 'incremental',
        epoch,
        // With GTIDs a batch is below the high watermark on any server: its transaction is in the set.
        safeAt: (coord, gtid) =>
          instance.syncer.safeMode ||
          (replaysAfterCopy(task.taskMode) &&
            (!highWatermark ||
              (highGtid && gtid !== null ? gtidInSet(highGtid, gtid) !== 'absent' : compareCoords(coord, highWatermark) < 0))),
        switched: switchedTables(applied, here.flavor),
      });
      ledger.restart(start.coord, gtidStart && formatGtidSet(gtidStart));
      server = here;
      onlineDdl = rules.onlineDdl
        ? createOnlineDdl(rules.onlineDdl, rules.filter, await loadOnlineDdl(pool(), meta, source.sourceId, start.coord))
        : undefined;
      events = createEventReader({
        task,
        sourceId: source.sourceId,
        log,
        rules,
        batcher,
        readOps,
        onlineDdl,
        start: start.coord,
        endAt,
        ...(gtidStart ? { gtidStart } : {}),
        ledger,
        schemas,
        schemaChanged: () => {
          if (zongji) forgetTableColumns(zongji);
        },
        figures: status,
        emit: enqueue,
        fail,
        halted: () => restarting,
      });
      // Reading the checkpoints took a while: the lease may have gone meanwhile.
      if (deposed()) return;
      const z = createBinlogStream(source, {
        reads: rules.filter.table,
        columns: (ev) => {
          const tracked = schemas.get(ev.schemaName, ev.tableName);
          const reason = tracked ? disagreement(tracked, ev.columnTypes) : 'the schema tracker has no definition of it';
          if (tracked && reason === undefined) return zongjiColumnSchemas(tracked);
          // The tablemap names its columns: zongji reads the rest from the source, as it always did.
          if (ev.columnNames?.length === ev.columnCount) return undefined;
          return untrackedTable(task.name, source.sourceId, { schema: ev.schemaName, table: ev.tableName }, reason!);
        },
      });
      zongji = z;
      // A stopped reader may still decode buffered events: only the current one counts.
      z.on('binlog', (ev: unknown) => {
        if (zongji === z) onEvent(ev as BinlogEvent);
      });
      z.on('error', (err: unknown) => {
        if (zongji !== z) return;
        // The control connection closing on its own is harmless while events still flow.
        if ((err as { code?: string }).code === 'ECONNRESET' && Date.now() - lastEventAt < WATCHDOG_MS) return;
        fail(tlsFailure(err, source.from, `source "${source.sourceId}"`, 'source') ?? err);
      });
      lastEventAt = Date.now();
      startBinlogStream(z, source.serverId ?? readerServerId(task.name, source.sourceId), start);
      delete status.error;
      startText = start.coord ? coordText(start.coord) : `GTID ${start.gtid}`;
      log.info({ from: startText, epoch, owner: lease.owner }, 'binlog reader started');
    } catch (err) {
      fail(err);
    }
  }

  void connect();
  tickTimer = setInterval(() => void tick(), 500);

  return {
    ended: () => ended,
    async stop(): Promise<void> {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (tickTimer) clearInterval(tickTimer);
      clearInterval(drainTimer);
      await disconnect();
      await sink.flush();
    },
  };
}
