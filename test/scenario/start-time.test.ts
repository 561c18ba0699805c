import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import type { Endpoint } from '../harness/servers.js';
import { queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * `start-task --start-time`: an incremental task starts at the first transaction the source
 * wrote at or after that time (in the source's time zone), found over several binlog files.
 */
const server = dmqForFile({ registerSources: 1 });

const ROWS = 'SELECT id, v FROM st.t';

async function sourceClock(server: Endpoint): Promise<string> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s') AS now");
    return String(rows[0]!.now);
  } finally {
    await conn.end();
  }
}

const inserts = (from: number, to: number) => `INSERT INTO st.t SELECT seq, seq * 3 FROM seq_${from}_to_${to}`;

test('--start-time starts at the first transaction at or after that time: only later rows arrive', { timeout: 240_000 }, async () => {
  const stack = await getStack();
  const up = stack.upstreams[0];
  await execSql(up, ['CREATE DATABASE st', 'CREATE TABLE st.t (id INT PRIMARY KEY, v INT)']);
  await execSql(stack.target, ['CREATE DATABASE st', 'CREATE TABLE st.t (id INT PRIMARY KEY, v INT)']);
  // Earlier rows over several binlog files, so the search has files to choose from.
  for (const [from, to] of [
    [1, 40],
    [41, 80],
    [81, 100],
  ] as const) {
    await execSql(up, ['USE st', inserts(from, to), 'FLUSH BINARY LOGS']);
  }
  // Binlog times have whole seconds: the start time is a second after the last earlier write.
  const lastEarly = await sourceClock(up);
  let startTime = lastEarly;
  while (startTime === lastEarly) {
    await sleep(200);
    startTime = await sourceClock(up);
  }
  await execSql(up, ['USE st', inserts(101, 150), 'UPDATE st.t SET v = 0 WHERE id = 120', 'FLUSH BINARY LOGS']);
  await execSql(up, ['USE st', inserts(151, 200), 'DELETE FROM st.t WHERE id = 151']);

  const task = await writeTask({ name: 'st', mode: 'incremental', schema: 'st' });
  const started = await runCli(server().addr, ['start-task', task, '--start-time', startTime]);
  assert.equal(started.code, 0, started.stdout);
  const sources = started.json.sources as { msg: string }[];
  assert.match(sources[0]!.msg, new RegExp(`starts at .+:\\d+, the first transaction at or after ${startTime}`));

  assert.equal((await waitForCaughtUp(server().addr, 'st', [up], 120_000)).stage, 'Running');
  const expected = await queryRows(up, `${ROWS} WHERE id > 100`);
  assert.equal(expected.length, 99);
  assert.deepEqual(await queryRows(stack.target, ROWS), expected);
});

test('--start-time before the oldest binlog or in the future is refused with the files there are', { timeout: 60_000 }, async () => {
  const task = await writeTask({ name: 'st-bad', mode: 'incremental', schema: 'st' });
  const early = await runCli(server().addr, ['start-task', task, '--start-time', '2001-02-03 04:05:06']);
  assert.equal(early.json.result, false, early.stdout);
  assert.match(
    String(early.json.msg),
    /start-time "2001-02-03 04:05:06" \(2001-02-0\d \d\d:\d\d:\d\d UTC\) is before the oldest binlog of source "mysql-replica-01": \S+ starts at/,
  );
  assert.match(String(early.json.msg), /Files available: \S+\.\d+, /);

  const late = await runCli(server().addr, ['start-task', task, '--start-time', '2099-01-01T00:00:00+08:00']);
  assert.equal(late.json.result, false, late.stdout);
  assert.match(String(late.json.msg), /start-time "2099-01-01T00:00:00\+08:00" is in the future on source "mysql-replica-01"/);

  const bad = await runCli(server().addr, ['start-task', task, '--start-time', 'yesterday']);
  assert.match(String(bad.json.msg), /start-time "yesterday" is not a time dmq can read/);
  const listed = await runCli(server().addr, ['query-status']);
  assert.deepEqual(
    (listed.json.tasks as { name: string }[]).filter((t) => t.name === 'st-bad'),
    [],
    'no task was created',
  );
});
