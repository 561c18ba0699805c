import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { runCli, startDmq, taskStatus, waitForCaughtUp, waitForStatus, type DmqServer, inSync } from '../support/dmq.js';
import { shardLocks, until } from '../support/shard-locks.js';
import { execSql, exampleFiles, seedTestTables, writeTask } from '../support/fixtures.js';
import { columnsOf, indexesOf } from '../support/schema.js';
import { startWriter } from '../support/writer.js';

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

const ADD_EXTRA = "ALTER TABLE test_db.test_table ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x' AFTER k";
const ADD_INDEX = 'ALTER TABLE test_db.test_table ADD INDEX by_extra (extra)';

test('the seed task in pessimistic shard mode: DDL run on both shards at different times lands once while writers run, its lock survives a kill -9, and unlock forces one', {
  timeout: 360_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(10_000);
  const files = await exampleFiles({ extraTaskYaml: 'shard-mode: "pessimistic"' });
  dmq = await startDmq();
  const dumpDir = dmq.dumpDir;
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 11 + i }));
  try {
    const started = await runCli(dmq.addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(dmq.addr, 'test', inSync, 120_000);

    await execSql(stack.upstreams[0], [ADD_EXTRA, "UPDATE test_db.test_table SET extra = CONCAT('s0-', id % 5) WHERE id % 3 = 0"]);
    // Shard 2 has not run it: the lock waits, and the target keeps its old columns.
    const waiting = await until('the shard DDL lock', async () => (await shardLocks(dmq!.addr)).find((l) => l.arrived.length > 0));
    assert.equal(waiting.id, 'test-`test_db`.`test_table`');
    assert.deepEqual(waiting.arrived, ['mysql-replica-01:`test_db`.`test_table`']);
    assert.deepEqual(waiting.missing, ['mysql-replica-02:`test_db`.`test_table`']);
    assert.match(waiting.ddl, /ADD COLUMN `extra`/);
    const status = await taskStatus(dmq.addr, 'test');
    const sub = (i: number) =>
      status.sources[i]!.subTaskStatus[0] as unknown as { unresolvedDDLLockID: string; sync: { blockingDDLs: string[] } };
    assert.equal(sub(0).unresolvedDDLLockID, waiting.id);
    assert.deepEqual(sub(0).sync.blockingDDLs, [waiting.ddl]);
    assert.equal(sub(1).unresolvedDDLLockID, '');
    assert.equal(status.stage, 'Running');

    // The lock lives on the target, not in the process.
    await dmq.kill();
    dmq = await startDmq({ dumpDir });
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(
      (await shardLocks(dmq.addr)).map((l) => [l.id, l.arrived, l.missing]),
      [[waiting.id, waiting.arrived, waiting.missing]],
    );
    assert.ok(
      !(await columnsOf(stack.target, 'test_db', 'test_table')).some((c) => c.startsWith('extra ')),
      'the target changes only when every shard has run the DDL',
    );

    await execSql(stack.upstreams[1], [ADD_EXTRA, "UPDATE test_db.test_table SET extra = CONCAT('s1-', id % 7) WHERE id % 5 = 0"]);
    await until('the lock to resolve', async () => ((await shardLocks(dmq!.addr)).length === 0 ? true : undefined));

    // A DDL only shard 2 runs: unlock applies it without waiting for shard 1 ...
    await execSql(stack.upstreams[1], [ADD_INDEX]);
    const second = await until('the second lock', async () => (await shardLocks(dmq!.addr)).find((l) => l.arrived.length > 0));
    assert.deepEqual(second.missing, ['mysql-replica-01:`test_db`.`test_table`']);
    const unlocked = await runCli(dmq.addr, ['shard-ddl-lock', 'unlock', second.id]);
    assert.equal(unlocked.code, 0, unlocked.stdout);
    assert.match(JSON.parse(unlocked.stdout).msg as string, /shards that had not reached it: mysql-replica-01/);
    assert.deepEqual(await shardLocks(dmq.addr), []);
    assert.ok((await indexesOf(stack.target, 'test_db', 'test_table')).includes('by_extra:extra'));
    // ... and when shard 1 runs it later, it goes past the resolved lock.
    await execSql(stack.upstreams[0], [ADD_INDEX]);
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 50),
      `writers ran: ${counts.join(', ')} transactions`,
    );
  }
  const final = await waitForCaughtUp(dmq.addr, 'test', stack.upstreams, 120_000);
  assert.equal(final.stage, 'Running', JSON.stringify(final, null, 2));
  assert.deepEqual(await shardLocks(dmq.addr), []);
  const columns = await columnsOf(stack.target, 'test_db', 'test_table');
  assert.equal(columns.filter((c) => c.startsWith('extra ')).length, 1);
  assert.deepEqual(columns, await columnsOf(stack.upstreams[0], 'test_db', 'test_table'));
  assert.deepEqual(await indexesOf(stack.target, 'test_db', 'test_table'), await indexesOf(stack.upstreams[0], 'test_db', 'test_table'));
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});

test('a shard dropped upstream leaves its merged table: the lock waiting for it resolves, its truncate and drop do not touch the merged rows, and a re-created shard joins again', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, [
    'CREATE DATABASE shard_db',
    'CREATE TABLE shard_db.t_1 (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE shard_db.t_2 (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO shard_db.t_1 SELECT seq, CONCAT('one ', seq) FROM shard_db.seq_1_to_100",
    "INSERT INTO shard_db.t_2 SELECT seq, CONCAT('two ', seq) FROM shard_db.seq_1001_to_1100",
  ]);
  const taskFile = await writeTask({
    name: 'leave',
    mode: 'all',
    schema: 'shard_db',
    instance: ['route-rules: [merge]'],
    extra: [
      'shard-mode: pessimistic',
      'routes:',
      '  merge: { schema-pattern: shard_db, table-pattern: "t_*", target-schema: merged_db, target-table: t }',
    ].join('\n'),
  });
  dmq ??= await startDmq();
  await runCli(dmq.addr, ['operate-source', 'create', (await exampleFiles()).sources[0]!]);
  assert.equal((await runCli(dmq.addr, ['start-task', taskFile])).code, 0);
  await waitForCaughtUp(dmq.addr, 'leave', [upstream], 120_000);

  await execSql(upstream, [
    "ALTER TABLE shard_db.t_1 ADD COLUMN x VARCHAR(10) NOT NULL DEFAULT 'd'",
    "INSERT INTO shard_db.t_1 VALUES (101, 'one after', 'new')",
  ]);
  const lock = await until('the lock', async () => (await shardLocks(dmq!.addr, 'leave'))[0]);
  assert.deepEqual(lock.missing, ['mysql-replica-01:`shard_db`.`t_2`']);

  await execSql(upstream, ['TRUNCATE TABLE shard_db.t_2', 'DROP TABLE shard_db.t_2']);
  await until('the lock to resolve', async () => ((await shardLocks(dmq!.addr, 'leave')).length === 0 ? true : undefined));
  await execSql(upstream, [
    "CREATE TABLE shard_db.t_2 (id INT PRIMARY KEY, v VARCHAR(20), x VARCHAR(10) NOT NULL DEFAULT 'd')",
    "INSERT INTO shard_db.t_2 VALUES (2001, 'two again', 'back')",
    'ALTER TABLE shard_db.t_1 ADD INDEX by_x (x)',
  ]);
  // Both shards exist again: the index waits for t_2 to run it too.
  const again = await until('the second lock', async () => (await shardLocks(dmq!.addr, 'leave'))[0]);
  assert.deepEqual(again.missing, ['mysql-replica-01:`shard_db`.`t_2`']);
  await execSql(upstream, ['ALTER TABLE shard_db.t_2 ADD INDEX by_x (x)']);
  const status = await waitForCaughtUp(dmq.addr, 'leave', [upstream]);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  assert.deepEqual(await shardLocks(dmq.addr, 'leave'), []);

  assert.deepEqual(await columnsOf(stack.target, 'merged_db', 't'), await columnsOf(upstream, 'shard_db', 't_1'));
  assert.deepEqual(await indexesOf(stack.target, 'merged_db', 't'), await indexesOf(upstream, 'shard_db', 't_1'));
  // The merged table keeps the dropped shard's rows, truncate or not.
  const expected = await queryRows(
    upstream,
    "SELECT id, v, x FROM shard_db.t_1 UNION ALL SELECT seq, CONCAT('two ', seq), 'd' FROM shard_db.seq_1001_to_1100 UNION ALL SELECT id, v, x FROM shard_db.t_2",
  );
  assert.deepEqual(await queryRows(stack.target, 'SELECT id, v, x FROM merged_db.t'), expected);
  assert.equal((await runCli(dmq.addr, ['stop-task', '--remove-meta', 'leave'])).code, 0);
});

test("optimistic shard mode: a column one shard adds reaches the merged table at once, the other shard's same DDL is a no-op, and a drop waits for every shard", {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE opt_db',
      'CREATE TABLE opt_db.t (id INT PRIMARY KEY, v VARCHAR(20), old INT)',
      `INSERT INTO opt_db.t SELECT seq * 2 + ${i}, CONCAT('row ', seq), seq FROM opt_db.seq_1_to_200`,
    ]);
  }
  const dir = await mkdtemp(join(tmpdir(), 'dmq-opt-'));
  const taskFile = join(dir, 'opt.yaml');
  await writeFile(
    taskFile,
    [
      'name: opt',
      'task-mode: all',
      'shard-mode: optimistic',
      `target-database: { host: 127.0.0.1, port: ${stack.target.port}, user: root, password: "" }`,
      'mysql-instances:',
      '  - { source-id: mysql-replica-01, block-allow-list: only }',
      '  - { source-id: mysql-replica-02, block-allow-list: only }',
      'block-allow-list:',
      '  only: { do-dbs: [opt_db] }',
    ].join('\n'),
  );
  dmq ??= await startDmq();
  await runCli(dmq.addr, ['operate-source', 'create', ...(await exampleFiles()).sources]);
  assert.equal((await runCli(dmq.addr, ['start-task', taskFile])).code, 0);
  await waitForCaughtUp(dmq.addr, 'opt', stack.upstreams, 120_000);

  const add = "ALTER TABLE opt_db.t ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'none'";
  await execSql(stack.upstreams[0], [add, "UPDATE opt_db.t SET note = 'first' WHERE id % 10 = 0"]);
  // Shard 2 has not added it and keeps writing rows without it.
  await execSql(stack.upstreams[1], ["INSERT INTO opt_db.t (id, v, old) VALUES (1001, 'two, old shape', 1)"]);
  await waitForCaughtUp(dmq.addr, 'opt', stack.upstreams);
  assert.ok(
    (await columnsOf(stack.target, 'opt_db', 't')).some((c) => c.startsWith('note ')),
    'the added column is on the merged table before shard 2 adds it',
  );
  assert.deepEqual(await shardLocks(dmq.addr, 'opt'), []);

  await execSql(stack.upstreams[1], [add, "INSERT INTO opt_db.t VALUES (1003, 'two, new shape', 3, 'second')"]);
  // Dropping a column other shards still write waits for all of them.
  await execSql(stack.upstreams[0], ['ALTER TABLE opt_db.t DROP COLUMN old']);
  const drop = await until('the drop lock', async () => (await shardLocks(dmq!.addr, 'opt'))[0]);
  assert.deepEqual(drop.missing, ['mysql-replica-02:`opt_db`.`t`']);
  await execSql(stack.upstreams[1], [
    'ALTER TABLE opt_db.t DROP COLUMN old',
    "INSERT INTO opt_db.t VALUES (1005, 'two, after drop', 'third')",
  ]);
  const status = await waitForCaughtUp(dmq.addr, 'opt', stack.upstreams);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  assert.deepEqual(await shardLocks(dmq.addr, 'opt'), []);
  assert.deepEqual(await columnsOf(stack.target, 'opt_db', 't'), await columnsOf(stack.upstreams[0], 'opt_db', 't'));
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'opt_db', table: 't' })),
    { server: stack.target, schema: 'opt_db', table: 't' },
  );
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(dmq.addr, ['stop-task', '--remove-meta', 'opt'])).code, 0);
});
