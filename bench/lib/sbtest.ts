/** The sysbench-like table both benchmarks move: how it is made, seeded, measured and compared. */
import { qualify, quoteId } from '../../src/shared/sql/quote.js';
import { int, log, mib, secs } from './format.js';
import { queryOne, withConnection, type Server } from './sql.js';

export const SCHEMA = 'sbtest';
export const TABLE = 'sbtest1';
export const SBTEST1 = qualify(SCHEMA, TABLE);

/** A sysbench group: 11 random digits. c is 10 groups joined by '-', pad 5 (as oltp_common.lua). */
const DIGITS = "LPAD(FLOOR(RAND() * 100000000000), 11, '0')";
const groups = (n: number) => `CONCAT_WS('-', ${Array.from({ length: n }, () => DIGITS).join(', ')})`;

/** sysbench's table, and `big`: NULL unless a run asks for wide rows (`--blob-bytes`). */
const CREATE_TABLE = `CREATE TABLE ${SBTEST1} (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  k INT NOT NULL DEFAULT 0,
  c CHAR(120) NOT NULL DEFAULT '',
  pad CHAR(60) NOT NULL DEFAULT '',
  big LONGBLOB NULL,
  KEY k_1 (k)
) ENGINE=InnoDB`;

/** Rows per INSERT … SELECT of the seed: about 64 MiB of blobs at most in one statement. */
const seedSlice = (blobBytes: number) => (blobBytes === 0 ? 100_000 : Math.max(1, Math.floor((64 << 20) / blobBytes)));

/**
 * N rows in slices of 100k from MariaDB's Sequence engine, two connections at a time (one per
 * core). The upstream's binlog is skipped for the seed: a full copy reads the table, not the log.
 */
async function seedUpstream(upstream: Server, rows: number, blobBytes: number): Promise<void> {
  await withConnection(upstream, async (conn) => {
    await conn.query(`CREATE DATABASE ${quoteId(SCHEMA)}`);
    await conn.query(CREATE_TABLE);
  });
  const slice = seedSlice(blobBytes);
  // Each row's blob differs (its id leads), so no two rows compress or compare alike.
  const big = blobBytes === 0 ? 'NULL' : `RPAD(CONCAT(seq, ':'), ${blobBytes}, ${DIGITS})`;
  const starts: number[] = [];
  for (let start = 1; start <= rows; start += slice) starts.push(start);
  const insertSlices = async () => {
    await withConnection(upstream, async (conn) => {
      await conn.query('SET SESSION sql_log_bin = 0');
      for (let start = starts.shift(); start !== undefined; start = starts.shift()) {
        const end = Math.min(rows, start + slice - 1);
        await conn.query(
          `INSERT INTO ${SBTEST1} (id, k, c, pad, big)
           SELECT seq, FLOOR(1 + RAND() * ${rows}), ${groups(10)}, ${groups(5)}, ${big} FROM ${qualify(SCHEMA, `seq_${start}_to_${end}`)}`,
        );
      }
    });
  };
  await Promise.all([insertSlices(), insertSlices()]);
  await withConnection(upstream, async (conn) => {
    await conn.query(`ANALYZE TABLE ${SBTEST1}`);
  });
}

/**
 * TiDB has no CHECKSUM TABLE, and its ADMIN CHECKSUM TABLE hashes its own storage format, so every
 * copy is compared by one expression each server computes alike: the sum of each row's CRC32 over
 * all its columns. A sum rather than BIT_XOR: CRC32 is linear over XOR, so two rows of the same
 * layout missing the same change (k = k + 1 turning 4 into 5 on both, say) would cancel out.
 */
const CHECKSUM = `SELECT SUM(CRC32(CONCAT_WS('#', id, k, c, pad, big))) AS crc FROM ${SBTEST1}`;

export interface TableFacts {
  rows: number;
  dataLength: number;
  indexLength: number;
  /** CHECKSUM's result. */
  checksum: string;
}

export async function tableFacts(server: Server, withSize = false): Promise<TableFacts> {
  return withConnection(server, async (conn) => {
    const count = await queryOne(conn, `SELECT COUNT(*) AS n FROM ${SBTEST1}`);
    const checksum = await queryOne(conn, CHECKSUM);
    let dataLength = 0;
    let indexLength = 0;
    if (withSize) {
      const size = await queryOne(
        conn,
        'SELECT DATA_LENGTH AS data, INDEX_LENGTH AS idx FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
        [SCHEMA, TABLE],
      );
      dataLength = Number(size.data);
      indexLength = Number(size.idx);
    }
    return { rows: Number(count.n), dataLength, indexLength, checksum: String(checksum.crc) };
  });
}

/** Seeds the upstream with `rows` rows (each with `blobBytes` bytes in `big`) and returns its facts, sizes included. */
export async function seed(upstream: Server, rows: number, blobBytes = 0): Promise<TableFacts> {
  log(`seeding ${SCHEMA}.${TABLE} with ${int(rows)} rows${blobBytes === 0 ? '' : ` of ${mib(blobBytes)} blobs`}`);
  const seedStart = Date.now();
  await seedUpstream(upstream, rows, blobBytes);
  const facts = await tableFacts(upstream, true);
  if (facts.rows !== rows) throw new Error(`seeding made ${facts.rows} rows instead of ${rows}`);
  log(
    `seeded in ${secs(Date.now() - seedStart)}: data_length ${mib(facts.dataLength)}, index_length ${mib(facts.indexLength)}, checksum ${facts.checksum}`,
  );
  return facts;
}

/** A one-line summary when `actual` (of `what`) equals the upstream's `expected`; throws otherwise. */
export function verify(what: string, expected: TableFacts, actual: TableFacts): string {
  const problems: string[] = [];
  if (actual.rows !== expected.rows) problems.push(`${int(actual.rows)} rows instead of ${int(expected.rows)}`);
  if (actual.checksum !== expected.checksum) problems.push(`checksum ${actual.checksum} instead of ${expected.checksum}`);
  if (problems.length > 0) throw new Error(`${what}: the target table differs from the upstream: ${problems.join('; ')}`);
  return `${int(actual.rows)} rows, checksum ${actual.checksum} = upstream`;
}
