import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { getStack, resetDatabases } from '../harness/stack.js';
import { startCluster, type Cluster } from '../support/cluster.js';
import { runCli, waitForStatus, inSync } from '../support/dmq.js';
import { assertConverged, registerSources, startWriters, writeFaultTask } from '../support/fault-task.js';
import { seedTestTables } from '../support/fixtures.js';

let cluster: Cluster | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await cluster?.stop();
});

/** Polls Redis until the precheck queue has a job running. */
async function precheckRunning(): Promise<void> {
  const redis = new Redis((await getStack()).redis.url);
  try {
    const deadline = Date.now() + 30_000;
    while ((await redis.llen('dmq:precheck:active')) === 0) {
      if (Date.now() > deadline) throw new Error('the precheck job never ran');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    redis.disconnect();
  }
}

test('copy through chunk files (DMQ_COPY_PATH=files), one api and two workers, writers on both upstreams: kill -9 of the worker running the precheck, of a worker in dump and in load; the task reaches sync exact and running', {
  timeout: 240_000,
}, async () => {
  await seedTestTables(30_000);
  const writers = await startWriters(101);
  try {
    // No worker yet: the precheck job waits until one starts, and that one is killed while it runs.
    // Dump and load as separate jobs, so each can be hit; test/faults/direct-copy.test.ts hits the direct copy.
    cluster = await startCluster({ workers: 0, env: { DMQ_COPY_PATH: 'files' } });
    await registerSources(cluster.addr);
    const started = await runCli(cluster.addr, ['start-task', await writeFaultTask({ name: 'copy' })]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    const prechecker = await cluster.addWorker();
    await precheckRunning();
    await cluster.killWorker(prechecker);
    await Promise.all([cluster.addWorker(), cluster.addWorker()]);

    // Dump: some chunks written, not all (dump and load overlap, so load jobs die too).
    await waitForStatus(cluster.addr, 'copy', (s) => {
      const dump = s.sources[0]!.subTaskStatus[0]!.dump;
      return s.stage !== 'Running' || (dump.completedChunks >= 2 && dump.completedChunks < dump.totalChunks);
    });
    const replacement = cluster.addWorker();
    await cluster.killWorker(cluster.workers()[0]!);
    await replacement;

    // Load: some chunks loaded, not all; the oldest worker has been working all along.
    await waitForStatus(cluster.addr, 'copy', (s) => {
      const sub = s.sources[1]!.subTaskStatus[0]!;
      return s.stage !== 'Running' || (sub.load.completedChunks >= 1 && sub.load.completedChunks < sub.dump.totalChunks);
    });
    const another = cluster.addWorker();
    await cluster.killWorker(cluster.workers()[0]!);
    await another;
    await waitForStatus(cluster.addr, 'copy', inSync, 180_000);
  } finally {
    await writers.stop();
  }
  const live = cluster;
  await assertConverged({ addr: live.addr, task: 'copy', logs: () => live.logs() });
});
