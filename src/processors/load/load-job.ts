import type { Job } from 'bullmq';
import { escape as escapeValue } from 'mysql2';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { metaName, type MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { startTableSync } from '../../shared/checkpoint/sync-checkpoint.js';
import type { OnDuplicate } from '../../shared/config/types.js';
import { replaysAfterCopy } from '../../shared/task/stages.js';
import { chunkLabel, type ChunkBounds, type KeyValue } from '../../shared/chunk/chunk.js';
import { advanceLoadOffset, readChunk, readSourcePlans, readTable, type TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import { DmqError } from '../../shared/errors.js';
import { makeExtractor } from '../../shared/filter/route.js';
import type { ChunkJob } from '../../shared/queue/queues.js';
import { isChunkFileKey } from '../../shared/store/dump-store.js';
import { qualify, quoteId, tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import { settleCopyProgress } from '../../shared/task/progress.js';
import { taskMeta, type ServiceContext } from '../../shared/task/context.js';
import { transactions } from './statement-batches.js';
import { ensureTargetTable } from './target-table.js';

const VERB: Record<OnDuplicate, string> = {
  replace: 'REPLACE INTO',
  ignore: 'INSERT IGNORE INTO',
  error: 'INSERT INTO',
};

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
    const extra = makeExtractor(instance.routes, task.caseSensitive)(key.sourceId, key.schema, key.table);
    const adapted = await ensureTargetTable(
      pool,
      task.name,
      table.target,
      table.createSql,
      extra.map((c) => c.column),
    );
    if (adapted.length > 0) {
      ctx.log.warn(
        { task: task.name, source: key.sourceId, table: tableLabel(table.target), changes: adapted },
        'table definition adapted for the target',
      );
    }
    if (!(await ctx.store.exists(chunk.fileKey))) {
      throw new DmqError('DUMP_FILE_MISSING', `${chunkLabel(key)}: dump file ${chunk.fileKey} is missing from ${ctx.store.describe()}`, {
        where: chunkLabel(key),
        workaround:
          'processors on several hosts must share DMQ_DUMP_DIR (a shared volume); to redo the copy run `dmq start-task --remove-meta`',
      });
    }
    const columns = [...table.columns.map((c) => c.name), ...extra.map((c) => c.column)];
    const prefix = `${VERB[instance.loader.onDuplicate]} ${qualify(table.target.schema, table.target.table)} (${columns.map(quoteId).join(', ')}) VALUES `;
    // The dump holds the source's columns; each row gets the extracted values appended.
    const rowEnd = extra.length > 0 ? Buffer.from(`${extra.map((c) => `,${escapeValue(c.value)}`).join('')})`) : undefined;
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
      if (err instanceof DmqError) throw err;
      const errno = serverErrno(err);
      if (errno === ER.ENTRY_TOO_LARGE || errno === ER.TXN_TOO_LARGE) throw tooLarge(err, key, table, chunk);
      const duplicate = errno === ER.DUP_ENTRY;
      // Retrying cannot make a colliding row go away: pause at once and say what to do.
      throw new DmqError(
        duplicate ? 'LOAD_CONFLICT' : 'LOAD_FAILED',
        `${chunkLabel(key)} into ${qualify(table.target.schema, table.target.table)}: ${(err as Error).message}`,
        {
          cause: err,
          where: chunkLabel(key),
          workaround: duplicate
            ? 'a copied row collides on a key with a row already on the target (or from another shard): remove it from the target, or set loaders.<name>.on-duplicate-logical to replace or ignore; then `dmq resume-task`'
            : 'check the target is reachable and accepts the table; the chunk resumes from its last committed batch',
        },
      );
    }
    if (task.cleanDumpFile) await ctx.store.remove(chunk.fileKey);
  }
  if (replaysAfterCopy(task.taskMode)) await handOverToSync(pool, meta, key);
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

/** A text for a key value in a message: strings quoted, bytes in hex. */
const keyText = (value: KeyValue) =>
  value === null
    ? 'NULL'
    : Buffer.isBuffer(value)
      ? `X'${value.toString('hex')}'`
      : typeof value === 'string'
        ? JSON.stringify(value)
        : String(value);

/**
 * TiDB refuses a row over txn-entry-size-limit (6 MiB by default) or a transaction over
 * txn-total-size-limit: retrying cannot help, so the task pauses naming the rows and the limit.
 */
function tooLarge(err: unknown, key: ChunkJob, table: TableRecord, chunk: ChunkBounds): DmqError {
  const splitKey = table.splitKey.length > 0 ? `(${table.splitKey.map(quoteId).join(', ')})` : 'the table has no key';
  const range =
    table.splitKey.length === 0
      ? splitKey
      : `${splitKey} from ${chunk.lower ? `(${chunk.lower.map(keyText).join(', ')})` : 'the first'} up to ${chunk.upper ? `(${chunk.upper.map(keyText).join(', ')})` : 'the last'}`;
  const entry = serverErrno(err) === ER.ENTRY_TOO_LARGE;
  return new DmqError(
    'TARGET_UNSUPPORTED',
    `${chunkLabel(key)} into ${qualify(table.target.schema, table.target.table)}: the target refuses ${entry ? 'a row of this chunk as larger than one entry may be' : 'a transaction of this chunk as too large'} (${(err as Error).message}); the chunk covers ${range}`,
    {
      cause: err,
      where: chunkLabel(key),
      workaround: entry
        ? 'raise the limit on the target (`SET GLOBAL tidb_txn_entry_size_limit = <bytes>` on TiDB v7.6 and later, up to 125829120; or txn-entry-size-limit in its config), then `dmq resume-task`; or leave the table out with block-allow-list'
        : "raise TiDB's txn-total-size-limit in its config, then `dmq resume-task`",
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

/** Write a chunk file from `startOffset` on, one checkpointed transaction at a time. */
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
  try {
    let from = startOffset;
    const commitStep = async (to: number, rows: number, statements: string[]): Promise<boolean> => {
      await conn.beginTransaction();
      try {
        // Checkpoint first: it locks the chunk's row, so a duplicate of this job waits here.
        if (!(await advanceLoadOffset(conn, meta, key, { from, to, rows, done: to >= fileBytes }))) {
          await conn.rollback();
          return false;
        }
        for (const values of statements) await conn.query(prefix + values);
        await conn.commit();
      } catch (err) {
        await conn.rollback().catch(() => undefined);
        throw err;
      }
      from = to;
      return true;
    };
    if (startOffset >= fileBytes) {
      await commitStep(fileBytes, 0, []);
      return;
    }
    for await (const txn of transactions(ctx.store.read(fileKey, startOffset), startOffset, { rowEnd })) {
      if (!(await commitStep(txn.endOffset, txn.rows, txn.statements))) return;
    }
  } finally {
    conn.release();
  }
}
