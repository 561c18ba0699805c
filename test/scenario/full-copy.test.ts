import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForStatus, type DmqServer } from '../support/dmq.js';
import { ALL_TYPES_TABLE, allTypesRows, exampleFiles, exampleTaskForDatabase, execSql } from '../support/fixtures.js';

let dmq: DmqServer;

before(async () => {
  await resetDatabases();
  dmq = await startDmq();
});

after(async () => {
  await dmq?.stop();
  const stack = await getStack();
  for (const upstream of stack.upstreams)
    await execSql(upstream, ['SET GLOBAL sql_mode = DEFAULT', 'SET GLOBAL sql_quote_show_create = ON']);
});

test('the seed task in full mode merges test_db.test_table of two upstreams, every type exact', async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
      'CREATE DATABASE test_db',
      ALL_TYPES_TABLE,
      ...allTypesRows(i * 1_000_000),
      // Tables the block-allow list and -T leave out must not reach the target.
      'CREATE TABLE test_db.other (id INT PRIMARY KEY)',
      'INSERT INTO test_db.other VALUES (1)',
    ]);
  }
  // A source whose global settings change how SHOW CREATE TABLE quotes names.
  for (const upstream of stack.upstreams) {
    await execSql(upstream, ["SET GLOBAL sql_mode = 'ANSI_QUOTES,STRICT_TRANS_TABLES'", 'SET GLOBAL sql_quote_show_create = OFF']);
  }
  const files = await exampleFiles({ taskMode: 'full' });

  const created = await runCli(dmq.addr, ['operate-source', 'create', ...files.sources]);
  assert.equal(created.code, 0, created.stdout + created.stderr);
  assert.deepEqual(
    (created.json.sources as { source: string }[]).map((s) => s.source),
    ['mysql-replica-01', 'mysql-replica-02'],
  );

  const started = await runCli(dmq.addr, ['start-task', files.task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);

  const status = await waitForStatus(dmq.addr, 'test', (s) => s.stage === 'Finished' || s.stage === 'Paused');
  assert.equal(status.stage, 'Finished', JSON.stringify(status, null, 2));
  for (const source of status.sources) {
    const sub = source.subTaskStatus[0]!;
    assert.equal(sub.stage, 'Finished');
    assert.equal(sub.unit, 'Load');
    assert.equal(sub.load.finishedRows, 4);
  }

  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, 8);
  assert.deepEqual(actual, expected);

  const cliStatus = await runCli(dmq.addr, ['query-status', 'test']);
  assert.equal(cliStatus.code, 0);
  assert.equal(cliStatus.json.stage, 'Finished');
  const list = await runCli(dmq.addr, ['query-status']);
  assert.deepEqual(list.json.tasks, [{ taskName: 'test', taskStatus: 'Finished', sources: ['mysql-replica-01', 'mysql-replica-02'] }]);
});

test('a row too large for the source to render in one value is dumped client-side, still exact', async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, [
    'CREATE DATABASE big_db',
    'CREATE TABLE big_db.blobs (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT CHARACTER SET utf8mb4)',
    // 750 kB of bytes renders as 1.5 MB of hex, over the 1 MiB max_allowed_packet set below.
    "INSERT INTO big_db.blobs VALUES (1, REPEAT(X'00FF275C0A', 150000), REPEAT('é\\n😀', 1000)), (2, X'01', 'small'), (3, NULL, NULL)",
    // And 1.2 MB of text with newlines to escape: QUOTE overflows the same way.
    "INSERT INTO big_db.blobs VALUES (4, NULL, REPEAT('é\\n', 400000))",
    'SET GLOBAL max_allowed_packet = 1048576',
  ]);
  await execSql(stack.upstreams[1], [
    'CREATE DATABASE big_db',
    'CREATE TABLE big_db.blobs (id INT PRIMARY KEY, b LONGBLOB, t LONGTEXT CHARACTER SET utf8mb4)',
    "INSERT INTO big_db.blobs VALUES (10, X'02', 'the other shard')",
  ]);
  try {
    const files = await exampleFiles({ taskMode: 'full' });
    await exampleTaskForDatabase(files.task, { name: 'big', db: 'big_db' });
    const started = await runCli(dmq.addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);
    const status = await waitForStatus(dmq.addr, 'big', (s) => s.stage === 'Finished' || s.stage === 'Paused');
    assert.equal(status.stage, 'Finished', JSON.stringify(status, null, 2));
  } finally {
    await execSql(upstream, ['SET GLOBAL max_allowed_packet = 67108864']);
  }
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'big_db', table: 'blobs' })),
    { server: stack.target, schema: 'big_db', table: 'blobs' },
  );
  assert.equal(actual.length, 5);
  assert.deepEqual(actual, expected);
  assert.match(dmq.output(), /dumping this chunk client-side/);
});
