import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, taskStatus, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, exampleFiles } from '../support/fixtures.js';
import { columnsOf, indexesOf } from '../support/schema.js';
import { startWriter } from '../support/writer.js';

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

interface Lock { id: string; seq: number; ddl: string; arrived: string[]; missing: string[] }

async function shardLocks(addr: string): Promise<Lock[]> {
  const listed = await runCli(addr, ['shard-ddl-lock', 'test']);
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  return (JSON.parse(listed.stdout) as { locks: Lock[] }).locks;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ADD_EXTRA = "ALTER TABLE test_db.test_table ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x' AFTER k";
const ADD_INDEX = 'ALTER TABLE test_db.test_table ADD INDEX by_extra (extra)';

test('the seed task in pessimistic shard mode: DDL run on both shards at different times lands once while writers run, its lock survives a kill -9, and unlock forces one', { timeout: 360_000 }, async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE test_db',
      'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB, KEY (k))',
      `INSERT INTO test_db.test_table SELECT seq * 2 + ${i}, seq % 1000, CONCAT('row ', seq), NULL FROM test_db.seq_0_to_9999`,
      'CREATE TABLE test_db.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))',
    ]);
  }
  const files = await exampleFiles({ extraTaskYaml: 'shard-mode: "pessimistic"' });
  dmq = await startDmq();
  const dumpDir = dmq.dumpDir;
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 11 + i }));
  try {
    const started = await runCli(dmq.addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);
    await waitForStatus(dmq.addr, 'test', (s) => s.stage !== 'Running' || s.sources.every((src) => src.subTaskStatus[0]!.unit === 'Sync'), 120_000);

    await execSql(stack.upstreams[0], [ADD_EXTRA, "UPDATE test_db.test_table SET extra = CONCAT('s0-', id % 5) WHERE id % 3 = 0"]);
    // Shard 2 has not run it: the lock waits, and the target keeps its old columns.
    const waiting = await until('the shard DDL lock', async () => (await shardLocks(dmq!.addr)).find((l) => l.arrived.length > 0));
    assert.equal(waiting.id, 'test-`test_db`.`test_table`');
    assert.deepEqual(waiting.arrived, ['mysql-replica-01:`test_db`.`test_table`']);
    assert.deepEqual(waiting.missing, ['mysql-replica-02:`test_db`.`test_table`']);
    assert.match(waiting.ddl, /ADD COLUMN `extra`/);
    const status = await taskStatus(dmq.addr, 'test');
    const sub = (i: number) => status.sources[i]!.subTaskStatus[0] as unknown as { unresolvedDDLLockID: string; sync: { blockingDDLs: string[] } };
    assert.equal(sub(0).unresolvedDDLLockID, waiting.id);
    assert.deepEqual(sub(0).sync.blockingDDLs, [waiting.ddl]);
    assert.equal(sub(1).unresolvedDDLLockID, '');
    assert.equal(status.stage, 'Running');

    // The lock lives on the target, not in the process.
    await dmq.kill();
    dmq = await startDmq({ dumpDir });
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual((await shardLocks(dmq.addr)).map((l) => [l.id, l.arrived, l.missing]), [[waiting.id, waiting.arrived, waiting.missing]]);
    assert.ok(!(await columnsOf(stack.target, 'test_db', 'test_table')).some((c) => c.startsWith('extra ')), 'the target changes only when every shard has run the DDL');

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
    assert.ok(counts.every((n) => n > 50), `writers ran: ${counts.join(', ')} transactions`);
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
