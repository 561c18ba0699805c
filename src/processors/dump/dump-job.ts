import { randomBytes } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Job } from 'bullmq';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { ChunkJob } from '../../shared/queue/queues.js';
import { chunkLabel } from '../../shared/chunk/chunk.js';
import {
  markChunkDumped,
  readChunk,
  readSourcePlans,
  readTable,
  recordHighWatermark,
  type TableRecord,
} from '../../shared/checkpoint/copy-checkpoint.js';
import { metaName } from '../../shared/checkpoint/meta-schema.js';
import { DmqError } from '../../shared/errors.js';
import { readBinlogPosition } from '../../shared/sql/binlog-status.js';
import { chunkFileKey } from '../../shared/store/dump-store.js';
import { enqueueLoad } from '../../shared/queue/task-queues.js';
import { loadsAfterDump } from '../../shared/task/stages.js';
import { settleCopyProgress } from '../../shared/task/progress.js';
import { copiesDirectly, copyChunkDirectly } from '../copy/direct-copy.js';
import { afterChunkLoaded } from '../load/load-job.js';
import { prepareChunkTarget } from '../load/target-writer.js';
import { requireSource, taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { copyFilterCondition } from './copy-filter.js';
import { readChunkRows, rowText, RowTooLargeForServer, type ChunkToRead, type RawRow, type RenderMode } from './chunk-read.js';

/** Bytes of chunk-file text gathered before one write to the store (rows are ~100 bytes). */
const WRITE_BYTES = 256 * 1024;

/** Rows to chunk-file lines, gathered into writes of about WRITE_BYTES. */
function lineWriter(mode: RenderMode, table: TableRecord, onRow: () => void): Transform {
  const text = rowText(mode, table);
  const newline = Buffer.from('\n');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = () => {
    const out = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  return new Transform({
    writableObjectMode: true,
    transform(row: RawRow, _enc, done) {
      onRow();
      let line: Buffer;
      try {
        line = text(row);
      } catch (err) {
        return done(err as Error);
      }
      pending.push(line, newline);
      pendingBytes += line.length + 1;
      done(null, pendingBytes >= WRITE_BYTES ? take() : undefined);
    },
    flush(done) {
      done(null, pendingBytes > 0 ? take() : undefined);
    },
  });
}

async function streamChunk(pool: Pool, read: ChunkToRead, mode: RenderMode, writable: Writable): Promise<number> {
  let rows = 0;
  await readChunkRows(pool, read, mode, (source) =>
    pipeline(
      source,
      lineWriter(mode, read.table, () => (rows += 1)),
      writable,
    ),
  );
  return rows;
}

/** Dump one chunk into a new file; the server renders rows unless one is too large for it. */
async function dumpToFile(ctx: ServiceContext, pool: Pool, read: ChunkToRead, fileKey: string) {
  const { chunk } = read;
  for (const mode of ['server', 'client'] as const) {
    const writer = await ctx.store.create(fileKey);
    try {
      const rows = await streamChunk(pool, read, mode, writer.stream);
      return { rows, bytes: await writer.commit() };
    } catch (err) {
      await writer.abort();
      if (!(err instanceof RowTooLargeForServer)) throw err;
      ctx.log.info(
        { source: chunk.sourceId, table: `${chunk.schema}.${chunk.table}`, chunk: chunk.index },
        'a rendered row exceeds the source max_allowed_packet; dumping this chunk client-side',
      );
    }
  }
  throw new Error('unreachable: the client-side dump has no row size limit');
}

/**
 * One chunk out of the source: copied straight into the target when it can be (see
 * copiesDirectly), else into a chunk file that its load job reads.
 */
export async function handleDumpJob(job: Job<ChunkJob>, ctx: ServiceContext): Promise<void> {
  const key = job.data;
  const task = await ctx.registry.requireTask(key.task);
  const meta = taskMeta(task);
  const target = ctx.pools.target(task);
  const chunk = await readChunk(target, meta, key);
  if (!chunk) return;
  let loaded = chunk.loaded;
  if (!chunk.dumped) {
    const table = await readTable(target, meta, key);
    if (!table) throw new DmqError('DUMP_FAILED', `${chunkLabel(key)}: no plan recorded`, { where: chunkLabel(key) });
    const source = ctx.pools.source(task, await requireSource(ctx, task, key.sourceId));
    const read = { table, chunk, filter: await copyFilterCondition(source, task, key, ctx.log) };
    if (copiesDirectly(ctx.copyPath, task.taskMode, table, chunk)) {
      const instance = task.instances.find((i) => i.sourceId === key.sourceId);
      if (!instance) return;
      const into = await prepareChunkTarget(ctx, task, instance, key, table);
      if ((await copyChunkDirectly(source, target, { meta, key, read, into, budget: ctx.copyBudget, log: ctx.log })) === 'superseded') {
        // Another delivery is ahead; it finishes the chunk and does what follows here.
        ctx.log.info(
          { task: key.task, source: key.sourceId, table: `${key.schema}.${key.table}`, chunk: key.index },
          'chunk copied on by another delivery of its job; this one stops',
        );
        return;
      }
      loaded = true;
    } else {
      await dumpChunkFile(ctx, source, read, key);
    }
  }
  if (loadsAfterDump(task.taskMode) && !loaded) await enqueueLoad(ctx, key);
  await recordHighWatermarkIfDumped(ctx, key);
  if (loaded) await afterChunkLoaded(ctx, task, key);
  // The high watermark may have just been recorded, which the move past Dump and Load waits for.
  else await settleCopyProgress(ctx, task);
}

/** Dump a chunk into a new file and claim the chunk for it; a slower duplicate's file is removed. */
async function dumpChunkFile(ctx: ServiceContext, source: Pool, read: ChunkToRead, key: ChunkJob): Promise<void> {
  const task = await ctx.registry.requireTask(key.task);
  const meta = taskMeta(task);
  const fileKey = chunkFileKey({ ...key, attempt: randomBytes(4).toString('hex') });
  let result: { rows: number; bytes: number };
  try {
    result = await dumpToFile(ctx, source, read, fileKey);
  } catch (err) {
    throw new DmqError('DUMP_FAILED', `${chunkLabel(key)}: ${(err as Error).message}`, {
      cause: err,
      where: chunkLabel(key),
      workaround: `check that source "${key.sourceId}" is reachable and the dump user may SELECT the table; the chunk is retried`,
    });
  }
  const { rows, bytes } = result;
  const won = await markChunkDumped(ctx.pools.target(task), meta, key, { fileKey, bytes, rows });
  if (!won) {
    // Another attempt of this chunk finished first (its file is the one loads read), or a direct copy of it began.
    await ctx.store.remove(fileKey);
  } else {
    ctx.log.debug(
      { task: key.task, source: key.sourceId, table: `${key.schema}.${key.table}`, chunk: key.index, rows, bytes },
      'chunk dumped',
    );
  }
}

/** The position after the last chunk was read: from here on, binlog events are applied plainly. */
async function recordHighWatermarkIfDumped(ctx: ServiceContext, key: ChunkJob): Promise<void> {
  const task = await ctx.registry.requireTask(key.task);
  const meta = taskMeta(task);
  const target = ctx.pools.target(task);
  const [rows] = await target.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${metaName(meta, 'chunks')} WHERE source_id = ? AND dumped_at IS NULL`,
    [key.sourceId],
  );
  if (Number(rows[0]?.n) > 0) return;
  const plan = (await readSourcePlans(target, meta)).find((p) => p.sourceId === key.sourceId);
  if (!plan || plan.dumpedAt) return;
  // Without a low watermark nothing is replayed (full mode on a source whose binlog the plan
  // found unreadable), so the copy only needs the mark that every chunk was read.
  if (!plan.low) {
    await recordHighWatermark(target, meta, key.sourceId, null);
    return;
  }
  const source = await requireSource(ctx, task, key.sourceId);
  const conn = await ctx.pools.source(task, source).getConnection();
  try {
    await recordHighWatermark(target, meta, key.sourceId, await readBinlogPosition(conn));
  } finally {
    conn.release();
  }
}
