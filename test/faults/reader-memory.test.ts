import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { TRANSACTION_LIMIT } from '../../src/producers/binlog/back-pressure.js';
import { compareCoords, parseCoordText } from '../../src/shared/binlog/position.js';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, taskStatus, waitForCaughtUp } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

const dmq = dmqForFile({ registerSources: 1 });

/** Transactions written on another table while one table's batch is held: more than the limit. */
const BUSY_TRANSACTIONS = 24_000;
const WRITERS = 4;

interface SyncFigures {
  pendingTransactions?: number;
  syncerBinlog: string;
}

test('a batch held on the target while another table gets tens of thousands of transactions: the reader holds few of them, that table keeps replicating, the checkpoint waits at the held batch, and all ends equal', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const [upstream] = stack.upstreams;
  await execSql(upstream, [
    'CREATE DATABASE mem_db',
    'CREATE TABLE mem_db.held (id INT PRIMARY KEY, v INT NOT NULL)',
    'INSERT INTO mem_db.held SELECT seq, 0 FROM mem_db.seq_1_to_10',
    'CREATE TABLE mem_db.busy (id INT PRIMARY KEY, v INT NOT NULL)',
  ]);
  const addr = dmq().addr;
  const taskFile = await writeTask({ name: 'mem', mode: 'all', schema: 'mem_db' });
  const started = await runCli(addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  await waitForCaughtUp(addr, 'mem', [upstream]);

  // Hold every row of `held` on the target: its next batch cannot be applied.
  const holder = await mysql.createConnection(stack.target);
  await holder.query('START TRANSACTION');
  await holder.query('SELECT * FROM mem_db.held FOR UPDATE');
  const source = await mysql.createConnection(upstream);
  const [[before]] = await source.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
  const heldAt = { file: String(before!.File), pos: Number(before!.Position) };
  await source.query('UPDATE mem_db.held SET v = v + 1');
  await source.end();

  let maxPending = 0;
  let polling = true;
  const sync = async () => (await taskStatus(addr, 'mem')).sources[0]!.subTaskStatus[0]!.sync as unknown as SyncFigures;
  const poller = (async () => {
    while (polling) {
      const figures = await sync();
      assert.notEqual(figures.pendingTransactions, undefined, 'query-status shows the transactions the reader holds');
      maxPending = Math.max(maxPending, figures.pendingTransactions!);
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  try {
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const conn = await mysql.createConnection(upstream);
        for (let i = w; i < BUSY_TRANSACTIONS; i += WRITERS) await conn.query('INSERT INTO mem_db.busy VALUES (?, ?)', [i, i % 7]);
        await conn.end();
      }),
    );
    // The busy table is applied in full while the held batch still waits.
    const count = async () => Number(JSON.parse((await queryRows(stack.target, 'SELECT COUNT(*) FROM mem_db.busy'))[0]!)[0]);
    const deadline = Date.now() + 90_000;
    while ((await count()) < BUSY_TRANSACTIONS) {
      assert.ok(Date.now() < deadline, `the busy table stalls behind the held batch at ${await count()} rows`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const figures = await sync();
    assert.ok(
      compareCoords(parseCoordText(figures.syncerBinlog), heldAt) <= 0,
      `the global checkpoint ${figures.syncerBinlog} must not pass the held batch after ${heldAt.file}:${heldAt.pos}`,
    );
  } finally {
    polling = false;
    await poller;
    await holder.query('ROLLBACK');
    await holder.end();
  }
  console.log(`most transactions the reader held: ${maxPending} (limit ${TRANSACTION_LIMIT})`);
  assert.ok(maxPending < TRANSACTION_LIMIT, `the reader held ${maxPending} transactions`);

  const status = await waitForCaughtUp(addr, 'mem', [upstream], 120_000);
  assert.equal(status.stage, 'Running');
  for (const table of ['held', 'busy']) {
    const { expected, actual } = await compareMerged([{ server: upstream, schema: 'mem_db', table }], {
      server: stack.target,
      schema: 'mem_db',
      table,
    });
    assert.equal(actual.length, expected.length, table);
    assert.deepEqual(actual, expected, table);
  }
});
