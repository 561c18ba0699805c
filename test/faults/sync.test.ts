import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack, resetDatabases } from '../harness/stack.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { runCli, waitForStatus, inSync } from '../support/dmq.js';
import { shardLocks, until } from '../support/shard-locks.js';
import { assertConverged, registerSources, SOURCES, startWriters, writeFaultTask } from '../support/fault-task.js';
import { execSql, seedTestTables } from '../support/fixtures.js';
import { columnsOf } from '../support/schema.js';

let cluster: Cluster | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await cluster?.stop();
});

const ADD_EXTRA = "ALTER TABLE test_db.test_table ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x' AFTER k";

test('sync with one api and two workers, writers on both upstreams, pessimistic shard merge: kill -9 of the api, of the binlog reader holder waiting on a shard DDL lock, and of every worker while the DDL runs on the target', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(5_000);
  const writers = await startWriters(201);
  // Holds the merged table's metadata lock on the target, so the DDL waits there while workers die.
  const blocker = await mysql.createConnection(stack.target);
  try {
    cluster = await startCluster({ workers: 2 });
    await registerSources(cluster.addr);
    const started = await runCli(cluster.addr, ['start-task', await writeFaultTask({ name: 'sync', shardMode: 'pessimistic' })]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    await waitForStatus(cluster.addr, 'sync', inSync, 120_000);

    // The api dies and comes back while shard 1 runs the DDL; its reader then waits on the lock.
    await Promise.all([
      cluster.restartApi(),
      execSql(stack.upstreams[0], [ADD_EXTRA, "UPDATE test_db.test_table SET extra = CONCAT('s0-', id % 5) WHERE id % 3 = 0"]),
    ]);
    await until('the shard DDL lock', async () => (await shardLocks(cluster!.addr, 'sync')).find((l) => l.arrived.length > 0));
    // kill -9 of the worker holding that reader: another takes it over.
    const holder = await cluster.readerHolder('sync', SOURCES[0]);
    const spare = cluster.addWorker();
    await cluster.killWorker(holder);
    const successor = await cluster.readerHolder('sync', SOURCES[0]);
    assert.notEqual(successor.pid, holder.pid, 'another worker took the reader over');
    await spare;

    // Shard 2 runs it too: the merged table's DDL goes to the target, which holds it; every worker dies.
    await blocker.query('START TRANSACTION');
    await blocker.query('SELECT COUNT(*) FROM test_db.test_table');
    await execSql(stack.upstreams[1], [ADD_EXTRA, "UPDATE test_db.test_table SET extra = CONCAT('s1-', id % 7) WHERE id % 5 = 0"]);
    await until(
      'the ALTER on the target',
      async () => {
        const [rows] = await blocker.query<mysql.RowDataPacket[]>(
          "SELECT id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%extra%' AND ID <> CONNECTION_ID()",
        );
        return rows.length > 0 ? true : undefined;
      },
      // Both shards' earlier changes apply first: with a worker just killed, on a loaded machine, up to 30 s in ten runs here.
      120_000,
    ).catch(async (err: Error) => {
      const locks = JSON.stringify(await shardLocks(cluster!.addr, 'sync'));
      throw new Error(`${err.message}; shard locks: ${locks}\n--- dmq logs (tail) ---\n${cluster!.logs().slice(-20_000)}`);
    });
    await cluster.killAllWorkers();
    await blocker.query('COMMIT');
    await Promise.all([cluster.addWorker(), cluster.addWorker()]);
    await until('the lock to resolve', async () => ((await shardLocks(cluster!.addr, 'sync')).length === 0 ? true : undefined), 120_000);
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await blocker.end();
    await writers.stop();
  }
  const live = cluster;
  await assertConverged({ addr: live.addr, task: 'sync', logs: () => live.logs() });
  const columns = await columnsOf(stack.target, 'test_db', 'test_table');
  assert.deepEqual(columns, await columnsOf(stack.upstreams[0], 'test_db', 'test_table'));
});
