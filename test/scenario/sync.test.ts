import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForStatus, type DmqServer, type TaskStatus } from '../support/dmq.js';
import { execSql, exampleFiles } from '../support/fixtures.js';
import { startWriter } from '../support/writer.js';

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

test('the seed task in all mode: writes during and after the copy reach the target exactly, across a kill -9', { timeout: 300_000 }, async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE test_db',
      'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB, KEY (k))',
      `INSERT INTO test_db.test_table SELECT seq * 2 + ${i}, seq % 1000, CONCAT('row ', seq), NULL FROM test_db.seq_0_to_39999`,
      'CREATE TABLE test_db.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))',
    ]);
  }
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 7 + i }));
  try {
    const files = await exampleFiles();
    dmq = await startDmq();
    const dumpDir = dmq.dumpDir;
    assert.equal((await runCli(dmq.addr, ['operate-source', 'create', ...files.sources])).code, 0);
    const started = await runCli(dmq.addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);

    await waitForStatus(dmq.addr, 'test', (s) => s.stage !== 'Running' || s.sources.every((src) => src.subTaskStatus[0]!.unit === 'Sync'), 120_000);
    // Keep writing while syncing, then kill the process holding the reader and the appliers.
    await new Promise((r) => setTimeout(r, 3000));
    await dmq.kill();
    await new Promise((r) => setTimeout(r, 1000));
    dmq = await startDmq({ dumpDir });
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(counts.every((n) => n > 50), `writers ran: ${counts.join(', ')} transactions`);
  }

  const status = await waitForStatus(dmq.addr, 'test', (s) => s.stage !== 'Running' || synced(s), 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});
