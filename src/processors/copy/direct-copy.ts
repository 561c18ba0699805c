import { pipeline } from 'node:stream/promises';
import type { Pool } from 'mysql2/promise';
import { lockChunkAt, recordCopyStep, type ChunkRecord, type TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import type { MetaTables } from '../../shared/checkpoint/meta-schema.js';
import { chunkLabel, type ChunkKey, type KeyValue } from '../../shared/chunk/chunk.js';
import type { TaskMode } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { BudgetShare, type ByteBudget } from '../../shared/memory/byte-budget.js';
import type { CopyPath } from '../../shared/task/context.js';
import { runsUnit } from '../../shared/task/stages.js';
import { readChunkRows, RowTooLargeForServer, type ChunkToRead } from '../dump/chunk-read.js';
import { DEFAULT_BATCH_LIMITS } from '../load/statement-batches.js';
import { loadFailure, type ChunkTarget } from '../load/target-writer.js';
import { statementPieces, type StatementPiece } from './statement-pieces.js';

/**
 * Whether this chunk is copied directly. Only a mode that dumps and loads can, and only a table
 * with a split key: the key of the last committed row is where a half-copied chunk resumes; a
 * keyless table goes through a file, whose fixed bytes say where. A chunk already begun one
 * way (a file claimed, rows committed directly) goes on that way whatever the setting says now.
 */
export function copiesDirectly(path: CopyPath, mode: TaskMode, table: TableRecord, chunk: ChunkRecord): boolean {
  if (chunk.loadOffset > 0 && chunk.fileKey === null) return true;
  if (chunk.dumped) return false;
  const keyed = table.splitKey.length > 0 && table.splitKey.every((name) => table.columns.some((c) => c.name === name));
  return path === 'direct' && runsUnit(mode, 'Dump') && runsUnit(mode, 'Load') && keyed;
}

/** Where the copy of a chunk stands: what is committed on the target. */
interface Stand {
  bytes: number;
  rows: number;
  key: KeyValue[] | null;
}

/** Another delivery of the job moved the chunk on (or finished it): this one stops, writing nothing. */
class Superseded extends Error {}

/**
 * One chunk from the source's SELECT into the target's INSERTs, without a file. Loading starts
 * with the first rows. Every target transaction starts by locking the chunk's checkpoint row
 * and checking it is where this delivery left it (else another delivery is ahead, and this one
 * stops), writes whole statements, and ends by moving the checkpoint to the key of its last
 * row; the last one also marks the chunk dumped and loaded. A new delivery resumes after the
 * committed key: no row is written twice or missed, and the rows read later are as fresh as
 * any chunk's, which the binlog replay from the low watermark makes exact.
 */
export async function copyChunkDirectly(
  source: Pool,
  target: Pool,
  run: {
    meta: MetaTables;
    key: ChunkKey;
    read: Omit<ChunkToRead, 'after'>;
    into: ChunkTarget;
    /** The bytes of rows this process's copies may hold at once between source and target. */
    budget: ByteBudget;
    log: Logger;
  },
): Promise<'copied' | 'superseded'> {
  const { meta, key, read, into } = run;
  // The load's limits: statements well under max_allowed_packet, transactions inside TiDB's.
  const limits = DEFAULT_BATCH_LIMITS;
  let stand: Stand = { bytes: read.chunk.loadOffset, rows: read.chunk.loadedRows, key: read.chunk.resumeKey };
  const conn = await target.getConnection();
  let inTransaction = false;

  const begin = async () => {
    await conn.beginTransaction();
    inTransaction = true;
    if (!(await lockChunkAt(conn, meta, key, stand.bytes))) throw new Superseded();
  };
  const commit = async (next: Stand, done: boolean) => {
    await recordCopyStep(conn, meta, key, { ...next, resumeKey: next.key, done });
    await conn.commit();
    inTransaction = false;
    stand = next;
  };
  /** Writes the pieces, a transaction per `transactionBytes`; the last commit marks the chunk done. */
  const write = async (pieces: AsyncIterable<StatementPiece>, share: BudgetShare) => {
    let next = stand;
    let txnBytes = 0;
    for await (const piece of pieces) {
      if (!inTransaction) await onTarget(begin);
      await onTarget(() => conn.query(piece.sql));
      share.give(piece.bytes);
      next = { bytes: next.bytes + piece.bytes, rows: next.rows + piece.rows, key: piece.lastKey };
      txnBytes += piece.bytes;
      if (txnBytes >= limits.transactionBytes) {
        await onTarget(() => commit(next, false));
        txnBytes = 0;
      }
    }
    if (!inTransaction) await onTarget(begin);
    await onTarget(() => commit(next, true));
  };
  /** A target statement's failure, said as a load failure (a source failure is said by the caller). */
  let targetError: unknown;
  const onTarget = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (err) {
      targetError = err instanceof Superseded ? err : loadFailure(err, key, read.table, read.chunk);
      throw targetError;
    }
  };

  try {
    for (const mode of ['server', 'client'] as const) {
      // A share per attempt: what a failed attempt held is given back before the next one reads.
      const share = new BudgetShare(run.budget);
      try {
        await readChunkRows(source, { ...read, after: stand.key }, mode, (rows) =>
          pipeline(
            rows,
            statementPieces(mode, read.table, { prefix: into.prefix, statementBytes: limits.statementBytes, rowEnd: into.rowEnd, share }),
            (pieces) => write(pieces, share),
          ),
        );
        return 'copied';
      } catch (thrown) {
        // The pipeline may reject with the abort of the source stream that the writer's own failure caused.
        const err = targetError ?? thrown;
        if (inTransaction) {
          await conn.rollback().catch(() => undefined);
          inTransaction = false;
        }
        if (!(err instanceof RowTooLargeForServer)) throw err;
        run.log.info(
          { source: key.sourceId, table: `${key.schema}.${key.table}`, chunk: key.index },
          'a rendered row exceeds the source max_allowed_packet; dumping this chunk client-side',
        );
      } finally {
        share.close();
      }
    }
    throw new Error('unreachable: the client-side read has no row size limit');
  } catch (err) {
    if (err instanceof Superseded) return 'superseded';
    if (err instanceof DmqError) throw err;
    throw new DmqError('DUMP_FAILED', `${chunkLabel(key)}: ${(err as Error).message}`, {
      cause: err,
      where: chunkLabel(key),
      workaround: `check that source "${key.sourceId}" is reachable and the dump user may SELECT the table; the chunk resumes after its last committed row`,
    });
  } finally {
    conn.release();
  }
}
