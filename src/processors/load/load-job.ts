import type { Job } from 'bullmq';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { metaName, type MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { startTableSync } from '../../shared/checkpoint/sync-checkpoint.js';
import type { TaskConfig } from '../../shared/config/types.js';
import { replaysAfterCopy } from '../../shared/task/stages.js';
import { chunkLabel } from '../../shared/chunk/chunk.js';
import { advanceLoadOffset, lockChunkAt, readChunk, readSourcePlans, readTable } from '../../shared/checkpoint/copy-checkpoint.js';
import { DmqError } from '../../shared/errors.js';
import type { ChunkJob } from '../../shared/queue/queues.js';
import { isChunkFileKey } from '../../shared/store/dump-store.js';
import { settleCopyProgress } from '../../shared/task/progress.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { statements } from './statement-batches.js';
import { loadFailure, prepareChunkTarget } from './target-writer.js';

export async function handleLoadJob(job: Job<ChunkJob>, ctx: ServiceContext): Promise<void> {
  const key = job.data;
  const task = await ctx.registry.requireTask(key.task);
  const instance = task.instances.find((i) => i.sourceId === key.sourceId);
  if (!instance) return;
  const meta = taskMeta(task);
  const pool = ctx.pools.target(task);
  const chunk = await readChunk(pool, meta, key);
  if (!chunk) return;
  if (!chunk.loaded) {
    if (!chunk.dumped || !chunk.fileKey) {
      throw new DmqError('LOAD_FAILED', `${chunkLabel(key)} is queued for load but was never dumped`, { where: chunkLabel(key) });
    }
    if (!isChunkFileKey(chunk.fileKey, key)) throw foreignFileKey(chunk.fileKey, key, meta, ctx.store.describe());
    const table = await readTable(pool, meta, key);
    if (!table) throw new DmqError('LOAD_FAILED', `${chunkLabel(key)}: no plan recorded`, { where: chunkLabel(key) });
    const { prefix, rowEnd } = await prepareChunkTarget(ctx, task, instance, key, table);
    if (!(await ctx.store.exists(chunk.fileKey))) {
      throw new DmqError('DUMP_FILE_MISSING', `${chunkLabel(key)}: dump file ${chunk.fileKey} is missing from ${ctx.store.describe()}`, {
        where: chunkLabel(key),
        workaround:
          'processors on several hosts must share DMQ_DUMP_DIR (a shared volume); to redo the copy run `dmq start-task --remove-meta`',
      });
    }
    try {
      await loadFile(
        ctx,
        pool,
        meta,
        key,
        { fileKey: chunk.fileKey, startOffset: chunk.loadOffset, fileBytes: chunk.fileBytes, rowEnd },
        prefix,
      );
    } catch (err) {
      throw loadFailure(err, key, table, chunk);
    }
    if (task.cleanDumpFile) await ctx.store.remove(chunk.fileKey);
  }
  await afterChunkLoaded(ctx, task, key);
}

/** A chunk is in: its table may go to replication if it was the last, and the source to its next unit. */
export async function afterChunkLoaded(ctx: ServiceContext, task: TaskConfig, key: ChunkJob): Promise<void> {
  if (replaysAfterCopy(task.taskMode)) await handOverToSync(ctx.pools.target(task), taskMeta(task), key);
  await settleCopyProgress(ctx, task);
}

/**
 * The file key dm_meta holds for a chunk is not one dmq made for it: the row was changed on the
 * target. Loading it could read, and with clean-dump-file delete, another file.
 */
function foreignFileKey(fileKey: string, key: ChunkJob, meta: MetaTables, dir: string): DmqError {
  const row = `${metaName(meta, 'chunks')} row (source_id, schema_name, table_name, chunk_index) = (${[key.sourceId, key.schema, key.table, String(key.index)].map((v) => JSON.stringify(v)).join(', ')})`;
  return new DmqError(
    'DUMP_KEY_INVALID',
    `${chunkLabel(key)}: the ${row} names the dump file ${JSON.stringify(fileKey)}, which is not a file of this chunk in ${dir}; nothing was read or deleted`,
    {
      where: chunkLabel(key),
      workaround:
        'dmq writes these keys itself, so someone changed the row: check who may write to the target meta schema; then redo the copy with `dmq start-task --remove-meta`',
    },
  );
}

/**
 * Once every chunk of a table is loaded, its binlog changes may be applied: from the source's
 * low watermark on, in safe mode up to the high watermark.
 */
async function handOverToSync(pool: Pool, meta: MetaTables, key: ChunkJob): Promise<void> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${metaName(meta, 'chunks')} WHERE source_id = ? AND schema_name = ? AND table_name = ? AND loaded_at IS NULL`,
    [key.sourceId, key.schema, key.table],
  );
  if (Number(rows[0]?.n) > 0) return;
  const low = (await readSourcePlans(pool, meta)).find((p) => p.sourceId === key.sourceId)?.low;
  if (!low) return;
  await startTableSync(pool, meta, key, low);
}

/**
 * Write a chunk file from `startOffset` on, one checkpointed transaction at a time. Statements
 * are made one at a time as they are sent, so a load holds one statement, not a transaction.
 */
async function loadFile(
  ctx: ServiceContext,
  pool: Pool,
  meta: MetaTables,
  key: ChunkJob,
  file: { fileKey: string; startOffset: number; fileBytes: number; rowEnd: Buffer | undefined },
  prefix: string,
): Promise<void> {
  const { fileKey, startOffset, fileBytes, rowEnd } = file;
  const conn = await pool.getConnection();
  let inTransaction = false;
  try {
    let from = startOffset;
    let rows = 0;
    /** Locks the chunk's row first, so a duplicate of this job waits here: whether the chunk still stands where this load is. */
    const begin = async (): Promise<boolean> => {
      await conn.beginTransaction();
      inTransaction = true;
      return lockChunkAt(conn, meta, key, from);
    };
    const commit = async (to: number): Promise<boolean> => {
      if (!(await advanceLoadOffset(conn, meta, key, { from, to, rows, done: to >= fileBytes }))) return false;
      await conn.commit();
      inTransaction = false;
      from = to;
      rows = 0;
      return true;
    };
    if (startOffset >= fileBytes) {
      if (await begin()) await commit(fileBytes);
      return;
    }
    let to = from;
    for await (const statement of statements(ctx.store.read(fileKey, startOffset), startOffset, { rowEnd })) {
      if (!inTransaction && !(await begin())) return;
      await conn.query(prefix + statement.values);
      rows += statement.rows;
      to = statement.endOffset;
      if (statement.closesTransaction && !(await commit(to))) return;
    }
    // The file's end closes its last transaction.
    if (inTransaction) await commit(to);
  } finally {
    // A transaction still open here failed, or another delivery of the job had moved the chunk on.
    if (inTransaction) await conn.rollback().catch(() => undefined);
    conn.release();
  }
}
