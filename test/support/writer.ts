import mysql from 'mysql2/promise';
import { ER, serverErrno } from '../../src/shared/sql/server-errors.js';
import type { Endpoint } from '../harness/servers.js';
import { prng } from './prng.js';

/**
 * Random single- and multi-table transactions against one upstream until stopped: inserts,
 * updates (primary-key changes too) and deletes. Keys stay ≡ `parity` modulo 2 so that two
 * upstreams merging into one table never collide.
 */
export function startWriter(server: Endpoint, options: { parity: 0 | 1; seed: number; perSecond?: number }) {
  let state = options.seed;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const key = () => random(200_000) * 2 + options.parity;

  const writer = writeUntilStopped(
    server,
    async (conn, done) => {
      await conn.beginTransaction();
      const statements = 1 + random(3);
      for (let i = 0; i < statements; i++) {
        const choice = random(10);
        if (choice < 4) {
          await conn.query('INSERT IGNORE INTO test_db.test_table (id, k, c, b) VALUES (?, ?, ?, ?)', [
            key(),
            random(1000),
            `w${random(1e6)} ✓`,
            Buffer.from([random(256), 0, 10, 39, 92]),
          ]);
        } else if (choice < 6) {
          await conn.query('UPDATE test_db.test_table SET k = k + 1, c = CONCAT(c, ?) WHERE id = ?', ['+', key()]);
        } else if (choice < 7) {
          // A primary-key change: same parity, so shards still cannot collide.
          await conn.query('UPDATE IGNORE test_db.test_table SET id = id + 400000 WHERE id = ?', [key()]);
        } else if (choice < 8) {
          await conn.query('DELETE FROM test_db.test_table WHERE id = ?', [key()]);
        } else if (choice < 9) {
          await conn.query('UPDATE test_db.test_table SET b = NULL, c = NULL WHERE k = ?', [random(1000)]);
        } else {
          // Another table, not migrated, in the same transaction.
          await conn.query('INSERT INTO test_db.audit (note) VALUES (?)', [`t${done}`]);
        }
      }
      await conn.commit();
    },
    { perSecond: options.perSecond },
  );
  return { transactions: writer.count, stop: writer.stop };
}

/**
 * Single-statement transactions against a table `(id INT PRIMARY KEY, k INT, c VARCHAR)` until
 * stopped: 60% updates of existing ids in 1..`rows`, 20% inserts above `insertFrom`, 20% deletes.
 */
export function startRowWriter(server: Endpoint, options: { table: string; rows: number; insertFrom: number; seed: number }) {
  const rnd = prng(options.seed);
  const writer = writeUntilStopped(server, async (conn, writes) => {
    const id = 1 + Math.floor(rnd() * options.rows);
    const choice = rnd();
    if (choice < 0.6) await conn.query(`UPDATE ${options.table} SET k = k + 1, c = ? WHERE id = ?`, [`w${writes}`, id]);
    else if (choice < 0.8)
      await conn.query(`INSERT INTO ${options.table} (id, k, c) VALUES (?, ?, ?)`, [
        options.insertFrom + writes,
        writes % 97,
        `new ${writes}`,
      ]);
    else await conn.query(`DELETE FROM ${options.table} WHERE id = ?`, [id]);
  });
  return { writes: writer.count, stop: writer.stop };
}

/**
 * Runs `step` (one transaction) on one connection until stopped or `limit` are done, as fast as
 * it goes or `perSecond` on average; `stop` resolves with the count done.
 */
function writeUntilStopped(
  server: Endpoint,
  step: (conn: mysql.Connection, done: number) => Promise<void>,
  pace: { limit?: number; perSecond?: number } = {},
) {
  const { limit = Infinity, perSecond } = pace;
  let stopped = false;
  let count = 0;
  const started = Date.now();
  const running = (async () => {
    const conn = await mysql.createConnection(server);
    try {
      while (!stopped && count < limit) {
        const due = perSecond === undefined ? 0 : started + (count * 1000) / perSecond - Date.now();
        if (due > 0) await new Promise((r) => setTimeout(r, due));
        try {
          await step(conn, count);
          count += 1;
        } catch (err) {
          // A test's own statements may deadlock with the writer; the server rolled back, go on.
          if (serverErrno(err) !== ER.LOCK_DEADLOCK) throw err;
          await conn.query('ROLLBACK');
        }
      }
    } finally {
      await conn.end();
    }
  })();
  return {
    count: () => count,
    async stop(): Promise<number> {
      stopped = true;
      await running;
      return count;
    },
  };
}

/**
 * Transactions of 1–4 statements against one shard `(id INT PRIMARY KEY, k INT NOT NULL, c
 * VARCHAR(40), KEY (k))` until stopped. Ids stay ≡ `shard` modulo `shards`, so shards merge
 * without collisions while their keys interleave in the merged table; `k` takes few values
 * shared by every shard, so updates by `k` touch many rows of each. At most `transactions`.
 */
export function startShardWriter(
  server: Endpoint,
  options: { table: string; shard: number; shards: number; seed: number; transactions: number },
) {
  const rnd = prng(options.seed);
  const id = () => options.shard + options.shards * Math.floor(rnd() * 20_000);
  const k = () => Math.floor(rnd() * 40);
  const writer = writeUntilStopped(
    server,
    async (conn, done) => {
      await conn.beginTransaction();
      const statements = 1 + Math.floor(rnd() * 4);
      for (let i = 0; i < statements; i++) {
        const choice = rnd();
        if (choice < 0.45) {
          const rows = [id(), id(), id()].map((n) => [n, k(), `s${options.shard} ${done}`]);
          await conn.query(`INSERT IGNORE INTO ${options.table} (id, k, c) VALUES ?`, [rows]);
        } else if (choice < 0.7) await conn.query(`UPDATE ${options.table} SET k = ?, c = ? WHERE id = ?`, [k(), `u${done}`, id()]);
        else if (choice < 0.8) await conn.query(`UPDATE ${options.table} SET c = ? WHERE k = ? LIMIT 20`, [`k${done}`, k()]);
        else await conn.query(`DELETE FROM ${options.table} WHERE id = ?`, [id()]);
      }
      await conn.commit();
    },
    { limit: options.transactions },
  );
  return { writes: writer.count, stop: writer.stop };
}

/**
 * Transactions of 1–3 statements against one hot table `(id INT PRIMARY KEY, code INT NOT NULL
 * UNIQUE, v VARCHAR(40))` on ids 1..`ids`, until stopped. `updates`: updates of `v` only; `all`:
 * also inserts, deletes, changes of the unique `code` and of the primary key, so that rows move
 * between keys and take values other rows just freed, at most `perSecond`.
 */
export function startHotTableWriter(
  server: Endpoint,
  options: { table: string; ids: number; seed: number; mix: 'updates' | 'all'; perSecond?: number },
) {
  const rnd = prng(options.seed);
  const id = () => 1 + Math.floor(rnd() * options.ids);
  const code = () => 1 + Math.floor(rnd() * options.ids * 2);
  const writer = writeUntilStopped(
    server,
    async (conn, done) => {
      await conn.beginTransaction();
      for (let i = 0, n = 1 + Math.floor(rnd() * 3); i < n; i++) {
        const choice = options.mix === 'updates' ? 0 : rnd();
        if (choice < 0.4) await conn.query(`UPDATE ${options.table} SET v = ? WHERE id = ?`, [`w${options.seed}.${done}.${i}`, id()]);
        else if (choice < 0.6) await conn.query(`INSERT IGNORE INTO ${options.table} (id, code, v) VALUES (?, ?, 'new')`, [id(), code()]);
        else if (choice < 0.75) await conn.query(`UPDATE IGNORE ${options.table} SET code = ? WHERE id = ?`, [code(), id()]);
        else if (choice < 0.9) await conn.query(`UPDATE IGNORE ${options.table} SET id = ? WHERE id = ?`, [id(), id()]);
        else await conn.query(`DELETE FROM ${options.table} WHERE id = ?`, [id()]);
      }
      await conn.commit();
    },
    { perSecond: options.perSecond },
  );
  return { transactions: writer.count, stop: writer.stop };
}
