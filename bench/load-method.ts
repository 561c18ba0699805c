/**
 * Which way of writing rows into the target is faster: dmq's multi-row INSERT statements (what
 * the load and the direct copy send) or LOAD DATA LOCAL INFILE of the same rows as TSV. Same rows,
 * same parallelism, same private target (MariaDB, or tidb-server with --target tidb), one run.
 * Every transaction starts by moving a checkpoint row, as dmq's do, so both forms pay for what
 * dmq needs; LOAD DATA is also timed on its own (autocommit, no checkpoint), which is what a
 * bare loader gets and what dmq could not use as is.
 *   npx tsx bench/load-method.ts [--target mariadb|tidb] [--rows 500000] [--parallel 4] [--statement-kib 1024] [--transaction-kib 8192]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { DEFAULT_BATCH_LIMITS, transactions, type Transaction } from '../src/processors/load/statement-batches.js';
import { integerOption, targetOption } from './lib/options.js';
import { serverVersion } from './lib/sql.js';
import { describeTarget, startTarget } from './lib/target.js';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'mariadb' },
    rows: { type: 'string', default: '500000' },
    parallel: { type: 'string', default: '4' },
    'statement-kib': { type: 'string', default: String(DEFAULT_BATCH_LIMITS.statementBytes >> 10) },
    'transaction-kib': { type: 'string', default: String(DEFAULT_BATCH_LIMITS.transactionBytes >> 10) },
  },
});
const TARGET = targetOption(values.target);
const LIMITS = {
  statementBytes: integerOption('statement-kib', values['statement-kib'], 1) << 10,
  transactionBytes: integerOption('transaction-kib', values['transaction-kib'], 1) << 10,
};
const ROWS = integerOption('rows', values.rows, 1);
const PARALLEL = integerOption('parallel', values.parallel, 1);

const digits = (n: number, len: number) =>
  Array.from({ length: len }, (_, i) => String((n * 7919 + i * 104729) % 100_000_000_000).padStart(11, '0')).join('-');
const rowAt = (id: number) => ({
  id,
  k: (id * 2654435761) % 1_000_000,
  c: digits(id, 10).slice(0, 119),
  pad: digits(id + 1, 5).slice(0, 59),
});

const dir = await mkdtemp(join(tmpdir(), 'dmq-load-method-'));
const server = await startTarget(TARGET, dir);
const endpoint = { host: server.host, port: server.port, user: server.user, password: server.password };

/** One transaction's rows in both forms: INSERT row lists and the TSV LOAD DATA reads. */
interface Batch {
  txn: Transaction;
  tsv: Buffer;
}

try {
  const perPart = Math.ceil(ROWS / PARALLEL);
  const parts = Array.from({ length: PARALLEL }, (_, p) => ({ from: p * perPart + 1, to: Math.min(ROWS, (p + 1) * perPart) }));
  // Both forms commit the same rows per transaction: the cuts of dmq's own batching.
  const batches: Batch[][] = [];
  let bytes = 0;
  for (const part of parts) {
    const tuples: string[] = [];
    for (let id = part.from; id <= part.to; id++) {
      const r = rowAt(id);
      tuples.push(`(${r.id},${r.k},'${r.c}','${r.pad}')\n`);
    }
    const file = Buffer.from(tuples.join(''));
    bytes += file.length;
    const partBatches: Batch[] = [];
    let id = part.from;
    for await (const txn of transactions(Readable.from([file]), 0, { limits: LIMITS })) {
      const tsv: string[] = [];
      for (const end = id + txn.rows; id < end; id++) {
        const r = rowAt(id);
        tsv.push(`${r.id}\t${r.k}\t${r.c}\t${r.pad}\n`);
      }
      partBatches.push({ txn, tsv: Buffer.from(tsv.join('')) });
    }
    batches.push(partBatches);
  }

  const admin = await mysql.createConnection(endpoint);
  const reset = async () => {
    await admin.query('DROP DATABASE IF EXISTS sbtest');
    await admin.query('CREATE DATABASE sbtest');
    await admin.query(`CREATE TABLE sbtest.sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0,
      c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))`);
    await admin.query('CREATE TABLE sbtest.checkpoint (part INT NOT NULL PRIMARY KEY, batches INT NOT NULL)');
    await admin.query('INSERT INTO sbtest.checkpoint VALUES ?', [parts.map((_, i) => [i, 0])]);
  };

  /** Opens a connection per part; LOAD DATA LOCAL reads the batch named in its statement from memory. */
  async function timed(label: string, load: (conn: mysql.Connection, part: number, tsvOf: Map<string, Buffer>) => Promise<void>) {
    await reset();
    const start = process.hrtime.bigint();
    try {
      await Promise.all(
        parts.map(async (_, i) => {
          const tsvOf = new Map<string, Buffer>();
          const conn = await mysql.createConnection({
            ...endpoint,
            infileStreamFactory: (name: string) => Readable.from([tsvOf.get(name)!]),
          });
          try {
            await load(conn, i, tsvOf);
          } finally {
            await conn.end();
          }
        }),
      );
    } catch (err) {
      console.log(`${label.padEnd(44)} refused by the target: ${(err as Error).message}`);
      return undefined;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM sbtest.sbtest1');
    if (Number(rows[0]!.n) !== ROWS) throw new Error(`${label}: loaded ${rows[0]!.n} rows, expected ${ROWS}`);
    console.log(
      `${label.padEnd(44)} ${seconds.toFixed(2)} s  ${Math.round(ROWS / seconds).toLocaleString('en')} rows/s  ${(bytes / seconds / 1e6).toFixed(1)} MB/s`,
    );
    return seconds;
  }

  /** Each batch in its own transaction, which first moves the part's checkpoint row. */
  const checkpointed =
    (write: (conn: mysql.Connection, batch: Batch, name: string, tsvOf: Map<string, Buffer>) => Promise<void>) =>
    async (conn: mysql.Connection, part: number, tsvOf: Map<string, Buffer>) => {
      for (const [n, batch] of batches[part]!.entries()) {
        await conn.beginTransaction();
        const [res] = await conn.query<mysql.ResultSetHeader>('UPDATE sbtest.checkpoint SET batches = ? WHERE part = ? AND batches = ?', [
          n + 1,
          part,
          n,
        ]);
        if (res.affectedRows !== 1) throw new Error(`part ${part}: checkpoint not at batch ${n}`);
        await write(conn, batch, `part-${part}-${n}.tsv`, tsvOf);
        await conn.commit();
      }
    };

  const loadData = async (conn: mysql.Connection, batch: Batch, name: string, tsvOf: Map<string, Buffer>) => {
    tsvOf.set(name, batch.tsv);
    await conn.query(`LOAD DATA LOCAL INFILE ${mysql.escape(name)} INTO TABLE sbtest.sbtest1 CHARACTER SET utf8mb4 (id, k, c, pad)`);
    tsvOf.delete(name);
  };

  const insert = await timed(
    'multi-row INSERT + checkpoint (dmq)',
    checkpointed(async (conn, batch) => {
      for (const rows of batch.txn.statements) await conn.query(`INSERT INTO sbtest.sbtest1 (id, k, c, pad) VALUES ${rows}`);
    }),
  );
  const loadDataCheckpointed = await timed('LOAD DATA LOCAL INFILE + checkpoint', checkpointed(loadData));
  const loadDataAlone = await timed('LOAD DATA LOCAL INFILE, autocommit', async (conn, part, tsvOf) => {
    for (const [n, batch] of batches[part]!.entries()) await loadData(conn, batch, `part-${part}-${n}.tsv`, tsvOf);
  });

  console.log(
    `target ${describeTarget(TARGET, await serverVersion(endpoint))}; rows ${ROWS.toLocaleString('en')}, ${(bytes / 1e6).toFixed(1)} MB as SQL tuples, ${PARALLEL} connections, statements of ${LIMITS.statementBytes >> 10} KiB in transactions of ${LIMITS.transactionBytes >> 10} KiB (${batches.reduce((n, b) => n + b.length, 0)} transactions)`,
  );
  const ratio = (label: string, seconds: number | undefined) =>
    insert && seconds ? console.log(`${label} / INSERT time ratio: ${(seconds / insert).toFixed(2)}`) : undefined;
  ratio('LOAD DATA + checkpoint', loadDataCheckpointed);
  ratio('LOAD DATA autocommit', loadDataAlone);
  await admin.end();
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
