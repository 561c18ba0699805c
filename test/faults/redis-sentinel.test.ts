import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MASTER_NAME, startSentinelGroup } from '../harness/sentinel.js';
import { startDmq, taskStatus } from '../support/dmq.js';
import { redisFaultScenario } from '../support/redis-faults.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('Sentinel: the Redis master killed mid-sync, the replica promoted, dmq goes on with no row lost or doubled', {
  timeout: 150_000,
}, async () => {
  const scenario = await redisFaultScenario('sent');
  const group = await startSentinelGroup({ dir: await mkdtemp(join(tmpdir(), 'dmq-sentinel-')) });
  const dmq = await startDmq({ env: { DMQ_REDIS_SENTINELS: group.sentinels.join(','), DMQ_REDIS_MASTER_NAME: MASTER_NAME } });
  try {
    assert.match(dmq.output(), /via sentinels/);
    await scenario.submit(dmq);
    scenario.startWriting();
    await scenario.midSync(dmq);

    await group.master.kill();
    const deadline = Date.now() + 60_000;
    while ((await group.masterPort()) !== group.replica.port) {
      assert.ok(Date.now() < deadline, 'the sentinels promoted the replica');
      await sleep(250);
    }
    await scenario.redisBack(dmq);
    // Writes go on through the failover and after it.
    await sleep(2000);
    await scenario.finish(dmq);
    const status = (await taskStatus(dmq.addr, 'sent')) as unknown as { redis: { up: boolean; outages: number } };
    assert.equal(status.redis.up, true);
    assert.ok(status.redis.outages >= 1, 'the failover was seen as an outage and is over');
  } finally {
    await scenario.stopWriting();
    await dmq.stop();
    await group.stop();
  }
});
