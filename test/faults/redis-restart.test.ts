import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRedis } from '../harness/servers.js';
import { runCli, startDmq, taskStatus } from '../support/dmq.js';
import { redisFaultScenario } from '../support/redis-faults.js';

test('Redis killed with kill -9 mid-sync and restarted from its AOF: the task goes on by itself, no row lost or doubled', {
  timeout: 150_000,
}, async () => {
  const scenario = await redisFaultScenario('raof');
  const dir = await mkdtemp(join(tmpdir(), 'dmq-redis-aof-'));
  let redis = await startRedis({ dir, aof: true });
  const dmq = await startDmq({ env: { REDIS_URL: redis.url } });
  try {
    await scenario.submit(dmq);
    scenario.startWriting();
    await scenario.midSync(dmq);
    await redis.kill();
    redis = await startRedis({ dir, port: redis.port, aof: true });
    await scenario.redisBack(dmq);
    await scenario.finish(dmq);
  } finally {
    await scenario.stopWriting();
    await dmq.stop();
    await redis.stop();
  }
});

test('Redis restarted empty mid-sync: sources and task submitted again continue from the checkpoints on the target', {
  timeout: 150_000,
}, async () => {
  const scenario = await redisFaultScenario('rempty');
  const dir = await mkdtemp(join(tmpdir(), 'dmq-redis-empty-'));
  let redis = await startRedis({ dir });
  const dmq = await startDmq({ env: { REDIS_URL: redis.url } });
  try {
    await scenario.submit(dmq);
    scenario.startWriting();
    await scenario.midSync(dmq);
    const before = (await taskStatus(dmq.addr, 'rempty')).sources[0]!.subTaskStatus[0]!;
    await redis.kill();
    // No AOF: the restarted Redis knows no source, task, queue or lease.
    redis = await startRedis({ dir, port: redis.port });
    await scenario.redisBack(dmq);
    const listed = await runCli(dmq.addr, ['query-status']);
    assert.deepEqual((listed.json as { tasks: unknown[] }).tasks, [], 'Redis lost the task');
    // dmq says so, and what to do, rather than going quiet.
    assert.match((listed.json as { redis: { dataLostAt?: string } }).redis.dataLostAt ?? '', /^\d{4}-/);
    assert.match(dmq.output(), /Redis came back without dmq data.*dmq operate-source create.*without --remove-meta/);

    await scenario.submit(dmq);
    await scenario.finish(dmq);
    const after = (await taskStatus(dmq.addr, 'rempty')).sources[0]!.subTaskStatus[0]!;
    // Copied once: the plan and the chunks' done-marks on the target were kept, not redone.
    assert.equal(after.dump.totalChunks, before.dump.totalChunks);
    assert.equal(after.load.finishedRows, before.load.finishedRows, 'no chunk loaded again');
  } finally {
    await scenario.stopWriting();
    await dmq.stop();
    await redis.stop();
  }
});
