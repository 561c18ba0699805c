import { randomBytes } from 'node:crypto';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Job } from 'bullmq';
import type { Connection as CallbackConnection } from 'mysql2';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { ChunkJob } from '../../shared/queue/queues.js';
import { chunkLabel } from '../../shared/chunk/chunk.js';
import {
  markChunkDumped,
  readChunk,
  readSourcePlans,
  readTable,
  recordHighWatermark,
  type ChunkRecord,
  type TableRecord,
} from '../../shared/checkpoint/copy-checkpoint.js';
import { metaName } from '../../shared/checkpoint/meta-schema.js';
import { DmqError } from '../../shared/errors.js';
import { readBinlogPosition } from '../../shared/sql/binlog-status.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';
import { chunkFileKey } from '../../shared/store/dump-store.js';
import { chunkCondition } from '../../shared/chunk/key-range.js';
import { enqueueLoad } from '../../shared/queue/task-queues.js';
import { loadsAfterDump } from '../../shared/task/stages.js';
import { settleCopyProgress } from '../../shared/task/progress.js';
import { requireSource, taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { copyFilterCondition } from './copy-filter.js';
import { rowEncoder, selectExpression, serverRowExpression } from './sql-literal.js';

/** Bytes of chunk-file text gathered before one write to the store (rows are ~100 bytes). */
const WRITE_BYTES = 256 * 1024;

/**
 * `server`: the source renders each row's line (fast). `client`: dmq renders it from raw
 * column bytes, for chunks holding a row whose rendered line exceeds the source's
 * max_allowed_packet.
 */
type RenderMode = 'server' | 'client';

class RowTooLargeForServer extends Error {}

/**
 * The SELECT that reads exactly one chunk, in key order so files are reproducible; `filter`
 * leaves out the rows expression filters match.
 */
function chunkQuery(chunk: ChunkToRead, mode: RenderMode): { sql: string; params: unknown[] } {
  const { table, filter } = chunk;
  const where = chunkCondition(table.splitKey, chunk.chunk);
  const order = table.splitKey.length > 0 ? ` ORDER BY ${table.splitKey.map(quoteId).join(', ')}` : '';
  const select = mode === 'server' ? serverRowExpression(table.columns) : table.columns.map(selectExpression).join(', ');
  return {
    sql: `SELECT ${select} FROM ${qualify(table.schema, table.table)} WHERE ${where.sql}${filter ? ` AND ${filter}` : ''}${order}`,
    params: where.params,
  };
}

interface ChunkToRead {
  table: TableRecord;
  chunk: ChunkRecord;
  filter: string | undefined;
}

function lineWriter(mode: RenderMode, table: TableRecord, onRow: () => void): Transform {
  const encode = rowEncoder(table.columns);
  const newline = Buffer.from('\n');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const add = (bytes: Buffer) => {
    pending.push(bytes);
    pendingBytes += bytes.length;
  };
  const take = () => {
    const out = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  return new Transform({
    writableObjectMode: true,
    transform(row: (Buffer | null)[], _enc, done) {
      onRow();
      if (mode === 'client') {
        add(Buffer.from(encode(row)));
      } else {
        const line = row[0];
        if (line === null || line === undefined) return done(new RowTooLargeForServer());
        add(line);
        add(newline);
      }
      done(null, pendingBytes >= WRITE_BYTES ? take() : undefined);
    },
    flush(done) {
      done(null, pendingBytes > 0 ? take() : undefined);
    },
  });
}

async function streamChunk(pool: Pool, read: ChunkToRead, mode: RenderMode, writable: Writable): Promise<number> {
  const conn = await pool.getConnection();
  let rows = 0;
  let broken = false;
  try {
    const { sql, params } = chunkQuery(read, mode);
    const callbackConn = conn.connection as unknown as CallbackConnection;
    const source = callbackConn.query({ sql, values: params, rowsAsArray: true, typeCast: false }).stream({ highWaterMark: 1000 });
    await pipeline(
      source,
      lineWriter(mode, read.table, () => (rows += 1)),
      writable,
    );
    return rows;
  } catch (err) {
    // A half-read result leaves the connection mid-protocol: never hand it back to the pool.
    broken = true;
    conn.destroy();
    throw err;
  } finally {
    if (!broken) conn.release();
  }
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

export async function handleDumpJob(job: Job<ChunkJob>, ctx: ServiceContext): Promise<void> {
  const key = job.data;
  const task = await ctx.registry.requireTask(key.task);
  const meta = taskMeta(task);
  const target = ctx.pools.target(task);
  const chunk = await readChunk(target, meta, key);
  if (!chunk) return;
  if (!chunk.dumped) {
    const table = await readTable(target, meta, key);
    if (!table) throw new DmqError('DUMP_FAILED', `${chunkLabel(key)}: no plan recorded`, { where: chunkLabel(key) });
    const source = await requireSource(ctx, task, key.sourceId);
    const fileKey = chunkFileKey({ ...key, attempt: randomBytes(4).toString('hex') });
    const pool = ctx.pools.source(task, source);
    const filter = await copyFilterCondition(pool, task, key, ctx.log);
    let result: { rows: number; bytes: number };
    try {
      result = await dumpToFile(ctx, pool, { table, chunk, filter }, fileKey);
    } catch (err) {
      throw new DmqError('DUMP_FAILED', `${chunkLabel(key)}: ${(err as Error).message}`, {
        cause: err,
        where: chunkLabel(key),
        workaround: `check that source "${key.sourceId}" is reachable and the dump user may SELECT the table; the chunk is retried`,
      });
    }
    const { rows, bytes } = result;
    const won = await markChunkDumped(target, meta, key, { fileKey, bytes, rows });
    if (!won) {
      // Another attempt of this chunk finished first; its file is the one loads read.
      await ctx.store.remove(fileKey);
    } else {
      ctx.log.debug(
        { task: key.task, source: key.sourceId, table: `${key.schema}.${key.table}`, chunk: key.index, rows, bytes },
        'chunk dumped',
      );
    }
  }
  if (loadsAfterDump(task.taskMode)) await enqueueLoad(ctx, key);
  await recordHighWatermarkIfDumped(ctx, key);
  if (!loadsAfterDump(task.taskMode)) await settleCopyProgress(ctx, task);
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
  const source = await requireSource(ctx, task, key.sourceId);
  const conn = await ctx.pools.source(task, source).getConnection();
  try {
    await recordHighWatermark(target, meta, key.sourceId, await readBinlogPosition(conn));
  } finally {
    conn.release();
  }
}
