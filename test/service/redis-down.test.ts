import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRedis } from '../harness/servers.js';
import { runCli, startDmq } from '../support/dmq.js';

test('with Redis down the API answers 503 REDIS_UNAVAILABLE at once, health stays up, and it recovers by itself', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-redis-down-'));
  let redis = await startRedis({ dir });
  const dmq = await startDmq({ env: { REDIS_URL: redis.url } });
  try {
    assert.equal((await fetch(`http://${dmq.addr}/api/v1/tasks`)).status, 200);
    await redis.stop();

    let res = await fetch(`http://${dmq.addr}/api/v1/tasks`, { signal: AbortSignal.timeout(5000) });
    for (let i = 0; i < 20 && res.status !== 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await fetch(`http://${dmq.addr}/api/v1/tasks`, { signal: AbortSignal.timeout(5000) });
    }
    assert.equal(res.status, 503);
    const body = (await res.json()) as { code: string; message: string; workaround: string };
    assert.equal(body.code, 'REDIS_UNAVAILABLE');
    assert.match(body.workaround, /REDIS_URL/);
    assert.equal((await fetch(`http://${dmq.addr}/healthz`)).status, 200);
    assert.equal((await fetch(`http://${dmq.addr}/readyz`, { signal: AbortSignal.timeout(5000) })).status, 503);
    const cli = await runCli(dmq.addr, ['query-status']);
    assert.equal(cli.code, 1);
    assert.match(String(cli.json.msg), /Redis cannot be reached/);

    redis = await startRedis({ dir, port: redis.port });
    let back = 0;
    for (let i = 0; i < 100 && back !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200));
      back = (await fetch(`http://${dmq.addr}/readyz`)).status;
    }
    assert.equal(back, 200, 'ready again once Redis is back');
    assert.equal((await fetch(`http://${dmq.addr}/api/v1/tasks`)).status, 200);
  } finally {
    await dmq.stop();
    await redis.stop();
  }
});
