import { escape as escapeValue } from 'mysql2';
import type { TableRecord } from '../../shared/checkpoint/copy-checkpoint.js';
import { chunkLabel, type ChunkBounds, type ChunkKey, type KeyValue } from '../../shared/chunk/chunk.js';
import type { InstanceConfig, OnDuplicate, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { makeExtractor } from '../../shared/filter/route.js';
import { qualify, quoteId, tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { ensureTargetTable } from './target-table.js';

/**
 * Where a chunk's rows go, shared by the load of a chunk file and the direct copy: the target
 * table made ready, the statement head every batch of tuples follows, and what the target's
 * refusals mean to the user.
 */
export interface ChunkTarget {
  /** `INSERT INTO t (cols) VALUES `: tuples follow. */
  prefix: string;
  /** Replaces each tuple's closing `)`: the values routes extract for this shard, appended to every row. */
  rowEnd: Buffer | undefined;
}

const VERB: Record<OnDuplicate, string> = {
  replace: 'REPLACE INTO',
  ignore: 'INSERT IGNORE INTO',
  error: 'INSERT INTO',
};

/** Creates (or adapts) the target table of a chunk and says how its rows are written. */
export async function prepareChunkTarget(
  ctx: ServiceContext,
  task: TaskConfig,
  instance: InstanceConfig,
  key: ChunkKey,
  table: TableRecord,
): Promise<ChunkTarget> {
  const pool = ctx.pools.target(task);
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
  const columns = [...table.columns.map((c) => c.name), ...extra.map((c) => c.column)];
  return {
    prefix: `${VERB[instance.loader.onDuplicate]} ${qualify(table.target.schema, table.target.table)} (${columns.map(quoteId).join(', ')}) VALUES `,
    rowEnd: extra.length > 0 ? Buffer.from(`${extra.map((c) => `,${escapeValue(c.value)}`).join('')})`) : undefined,
  };
}

/** A tuple with the extracted values appended in place of its closing `)`. */
export function withRowEnd(tuple: Buffer, rowEnd: Buffer | undefined): Buffer {
  return rowEnd ? Buffer.concat([tuple.subarray(0, tuple.length - 1), rowEnd]) : tuple;
}

/** What a failed write of a chunk's rows means, said to the user; a DmqError stays as it is. */
export function loadFailure(err: unknown, key: ChunkKey, table: TableRecord, chunk: ChunkBounds): unknown {
  if (err instanceof DmqError) return err;
  const errno = serverErrno(err);
  if (errno === ER.ENTRY_TOO_LARGE || errno === ER.TXN_TOO_LARGE) return tooLarge(err, key, table, chunk);
  const duplicate = errno === ER.DUP_ENTRY;
  // Retrying cannot make a colliding row go away: pause at once and say what to do.
  return new DmqError(
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
function tooLarge(err: unknown, key: ChunkKey, table: TableRecord, chunk: ChunkBounds): DmqError {
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
