import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startMember, TARGET, type MariadbServer } from '../harness/servers.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForStatus, type DmqServer, inSync } from '../support/dmq.js';
import { assertConverged, registerSources, SOURCES, startWriters, writeFaultTask } from '../support/fault-task.js';
import { seedTestTables } from '../support/fixtures.js';
import { startNetnsLink } from '../support/netns.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

let dmq: DmqServer | undefined;
// A target of this file's own, so that it can be killed and started again on its data.
let target: MariadbServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
  await target?.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('writers on both upstreams: the target is killed in the copy and down for 30 s, its link is cut in sync, the source link goes down in sync; the task ends exact and running', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(10_000);
  const targetDir = await mkdtemp(join(tmpdir(), 'dmq-fault-target-'));
  target = await startMember(targetDir, TARGET);
  const targetLink = await startTcpProxy(target);
  // Source 1 is reached over a veth pair into a network namespace whose end can go down.
  const sourceLink = await startNetnsLink(stack.upstreams[0]);
  const writers = await startWriters(301);
  try {
    dmq = await startDmq();
    await registerSources(dmq.addr, [sourceLink, stack.upstreams[1]]);
    const started = await runCli(dmq.addr, ['start-task', await writeFaultTask({ name: 'net', targetPort: targetLink.port })]);
    assert.equal(started.code, 0, started.stdout + started.stderr);

    // Copy: the target is killed mid-dump and stays down 30 s.
    await waitForStatus(dmq.addr, 'net', (s) => {
      const dump = s.sources[0]!.subTaskStatus[0]!.dump;
      return s.stage !== 'Running' || (dump.completedChunks >= 1 && dump.completedChunks < dump.totalChunks);
    });
    process.kill(target.pid, 'SIGKILL');
    await pause(30_000);
    target = await startMember(targetDir, TARGET, target.port);

    // Sync: the target link is cut, then the source link goes down.
    await waitForStatus(dmq.addr, 'net', inSync, 180_000);
    targetLink.cut();
    await pause(6_000);
    targetLink.restore();
    await pause(2_000);
    sourceLink.down();
    await pause(10_000);
    sourceLink.up();
    await pause(2_000);
  } finally {
    await writers.stop();
  }
  const live = dmq;
  try {
    const { host, port, user, password } = target;
    await assertConverged({ addr: live.addr, task: 'net', target: { host, port, user, password }, logs: () => live.output() });
  } finally {
    await sourceLink.close();
    await targetLink.close();
  }
  // Each outage of the target is one warning when it starts and one line when it ends, however
  // many jobs retried in between.
  for (const source of SOURCES) {
    const lines = live
      .output()
      .split('\n')
      .filter((line) => line.includes(`"source":"${source}"`));
    const starts = lines.filter((line) => line.includes('"msg":"target unreachable; apply waits"')).length;
    const ends = lines.filter((line) => line.includes('"msg":"target reachable again; apply continues"')).length;
    assert.ok(ends >= 1, `the target outages reached the applier of ${source}`);
    assert.equal(starts, ends, `outage warnings of ${source}: ${starts} for ${ends} outages`);
  }
});
