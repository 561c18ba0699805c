import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForStatus, type DmqServer, type TaskStatus, inSync } from '../support/dmq.js';
import { execSql, exampleFiles, writeTask } from '../support/fixtures.js';
import { startHotTableWriter } from '../support/writer.js';

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

const synced = (s: TaskStatus) =>
  s.sources.every((src) => {
    const sub = src.subTaskStatus[0] as unknown as { unit: string; sync?: { synced: boolean } };
    return sub.unit === 'Sync' && sub.sync?.synced === true;
  });

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one hot table on 4 lanes: key and unique-key changes, a DDL and a kill -9 mid-sync; the target ends exact and several lanes applied', {
  timeout: 480_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, [
    'CREATE DATABASE lanes_db',
    'CREATE TABLE lanes_db.hot (id INT PRIMARY KEY, code INT NOT NULL, v VARCHAR(40), UNIQUE KEY uc (code))',
    "INSERT INTO lanes_db.hot SELECT seq, seq, CONCAT('row ', seq) FROM lanes_db.seq_1_to_2000",
  ]);
  const taskFile = await writeTask({ name: 'lanes', mode: 'all', schema: 'lanes_db', instance: ['syncer: { worker-count: 4 }'] });
  const files = await exampleFiles();
  dmq = await startDmq();
  const dumpDir = dmq.dumpDir;
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!])).code, 0);
  // Mostly updates of other columns, which go to lanes; key and unique-key changes, which join, now and then.
  const writers = [
    startHotTableWriter(upstream, { table: 'lanes_db.hot', ids: 2500, seed: 1, mix: 'updates', perSecond: 150 }),
    startHotTableWriter(upstream, { table: 'lanes_db.hot', ids: 2500, seed: 2, mix: 'updates', perSecond: 150 }),
    startHotTableWriter(upstream, { table: 'lanes_db.hot', ids: 2500, seed: 3, mix: 'all', perSecond: 10 }),
  ];
  try {
    const started = await runCli(dmq.addr, ['start-task', taskFile]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(dmq.addr, 'lanes', inSync, 120_000);
    await pause(3000);
    // A DDL between the rows: every lane applies what came before it, then all follow it.
    await execSql(upstream, ['ALTER TABLE lanes_db.hot ADD COLUMN extra INT NOT NULL DEFAULT 7']);
    await pause(2000);
    await dmq.kill();
    await pause(1000);
    dmq = await startDmq({ dumpDir });
    await pause(3000);
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 50),
      `writers ran: ${counts.join(', ')} transactions`,
    );
  }

  const status = await waitForStatus(dmq.addr, 'lanes', (s) => s.stage !== 'Running' || synced(s), 300_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const { expected, actual } = await compareMerged([{ server: upstream, schema: 'lanes_db', table: 'hot' }], {
    server: stack.target,
    schema: 'lanes_db',
    table: 'hot',
  });
  assert.ok(expected.length > 1000, `${expected.length} rows`);
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);

  // Evidence of parallel lanes: several lanes of the table moved their own checkpoint rows.
  const conn = await mysql.createConnection(stack.target);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT lane, binlog_name, binlog_pos FROM dm_meta.lanes_syncer_lane WHERE table_name = 'hot' AND lane_count = 4 AND binlog_name <> ''",
    );
    assert.ok(rows.length >= 2, `lanes that applied batches: ${JSON.stringify(rows)}`);
  } finally {
    await conn.end();
  }
});
