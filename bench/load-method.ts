/**
 * Which way of writing rows into the target is faster: dmq's multi-row INSERT statements (what
 * the load processor sends) or LOAD DATA LOCAL INFILE of the same rows as TSV. Same rows, same
 * parallelism, same private MariaDB, one run.
 *   npx tsx bench/load-method.ts [--rows 500000] [--parallel 4] [--statement-kib 1024] [--transaction-kib 8192]
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import { DEFAULT_BATCH_LIMITS, transactions } from '../src/processors/load/statement-batches.js';
import { startMariadb } from '../test/harness/servers.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '500000' },
    parallel: { type: 'string', default: '4' },
    'statement-kib': { type: 'string', default: String(DEFAULT_BATCH_LIMITS.statementBytes >> 10) },
    'transaction-kib': { type: 'string', default: String(DEFAULT_BATCH_LIMITS.transactionBytes >> 10) },
  },
});
const LIMITS = { statementBytes: Number(values['statement-kib']) << 10, transactionBytes: Number(values['transaction-kib']) << 10 };
const ROWS = Number(values.rows);
const PARALLEL = Number(values.parallel);

const digits = (n: number, len: number) =>
  Array.from({ length: len }, (_, i) => String((n * 7919 + i * 104729) % 100_000_000_000).padStart(11, '0')).join('-');
const rowAt = (id: number) => ({
  id,
  k: (id * 2654435761) % 1_000_000,
  c: digits(id, 10).slice(0, 119),
  pad: digits(id + 1, 5).slice(0, 59),
});

const dir = await mkdtemp(join(tmpdir(), 'dmq-load-method-'));
const server = await startMariadb({ dir: join(dir, 'db'), serverId: 1, binlog: false });
const endpoint = { host: server.host, port: server.port, user: server.user, password: server.password };

try {
  const perPart = Math.ceil(ROWS / PARALLEL);
  const parts = Array.from({ length: PARALLEL }, (_, p) => ({ from: p * perPart + 1, to: Math.min(ROWS, (p + 1) * perPart) }));
  const tupleFiles: Buffer[] = [];
  const tsvFiles: string[] = [];
  for (const [i, part] of parts.entries()) {
    const tuples: string[] = [];
    const tsv: string[] = [];
    for (let id = part.from; id <= part.to; id++) {
      const r = rowAt(id);
      tuples.push(`(${r.id},${r.k},'${r.c}','${r.pad}')\n`);
      tsv.push(`${r.id}\t${r.k}\t${r.c}\t${r.pad}\n`);
    }
    tupleFiles.push(Buffer.from(tuples.join('')));
    const path = join(dir, `part-${i}.tsv`);
    await writeFile(path, tsv.join(''));
    tsvFiles.push(path);
  }
  const bytes = tupleFiles.reduce((n, b) => n + b.length, 0);

  const admin = await mysql.createConnection(endpoint);
  const reset = async () => {
    await admin.query('DROP DATABASE IF EXISTS sbtest');
    await admin.query('CREATE DATABASE sbtest');
    await admin.query(`CREATE TABLE sbtest.sbtest1 (id INT NOT NULL PRIMARY KEY, k INT NOT NULL DEFAULT 0,
      c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))`);
  };

  async function timed(label: string, load: (part: number) => Promise<void>): Promise<number> {
    await reset();
    const start = process.hrtime.bigint();
    await Promise.all(parts.map((_, i) => load(i)));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const [rows] = await admin.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM sbtest.sbtest1');
    if (Number(rows[0]!.n) !== ROWS) throw new Error(`${label}: loaded ${rows[0]!.n} rows, expected ${ROWS}`);
    console.log(
      `${label.padEnd(28)} ${seconds.toFixed(2)} s  ${Math.round(ROWS / seconds).toLocaleString('en')} rows/s  ${(bytes / seconds / 1e6).toFixed(1)} MB/s`,
    );
    return seconds;
  }

  const insert = await timed('multi-row INSERT (dmq)', async (i) => {
    const conn = await mysql.createConnection(endpoint);
    for await (const txn of transactions(Readable.from([tupleFiles[i]!]), 0, { limits: LIMITS })) {
      await conn.beginTransaction();
      for (const values of txn.statements) await conn.query(`INSERT INTO sbtest.sbtest1 (id, k, c, pad) VALUES ${values}`);
      await conn.commit();
    }
    await conn.end();
  });

  const loadData = await timed('LOAD DATA LOCAL INFILE', async (i) => {
    const conn = await mysql.createConnection({ ...endpoint, infileStreamFactory: (path: string) => createReadStream(path) });
    await conn.query(
      `LOAD DATA LOCAL INFILE ${mysql.escape(tsvFiles[i]!)} INTO TABLE sbtest.sbtest1 CHARACTER SET utf8mb4 (id, k, c, pad)`,
    );
    await conn.end();
  });

  console.log(
    `rows ${ROWS.toLocaleString('en')}, ${(bytes / 1e6).toFixed(1)} MB as SQL tuples, ${PARALLEL} connections, statements of ${LIMITS.statementBytes >> 10} KiB in transactions of ${LIMITS.transactionBytes >> 10} KiB`,
  );
  console.log(`LOAD DATA / INSERT time ratio: ${(loadData / insert).toFixed(2)}`);
  await admin.end();
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
