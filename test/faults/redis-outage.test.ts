import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRedis } from '../harness/servers.js';
import { startDmq } from '../support/dmq.js';
import { redisFaultScenario } from '../support/redis-faults.js';
import { scrapeMetrics } from '../support/metrics.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Log lines; anything not pino's JSON (a library printing on its own) counts as an error line. */
function logLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (l.startsWith('{') ? (JSON.parse(l) as LogLine) : { level: 50, msg: l }));
}

test('a Redis outage under a syncing task is one warning and one summary, shows in status and /metrics, and shutdown after it is clean', {
  timeout: 120_000,
}, async () => {
  const scenario = await redisFaultScenario('rout');
  const dir = await mkdtemp(join(tmpdir(), 'dmq-redis-outage-'));
  let redis = await startRedis({ dir, aof: true });
  const dmq = await startDmq({ env: { REDIS_URL: redis.url } });
  try {
    await scenario.submit(dmq);
    scenario.startWriting();
    await scenario.midSync(dmq);
    const up = await scrapeMetrics(dmq.addr);
    assert.deepEqual(up.get('dmq_redis_up'), [1]);
    assert.deepEqual(up.get('dmq_redis_outages_total'), [0]);

    const mark = dmq.output().length;
    await redis.stop();
    // Several reconnect attempts of every connection: ioredis retries every 50..2000 ms.
    await sleep(4000);
    const down = await scrapeMetrics(dmq.addr);
    assert.deepEqual(down.get('dmq_redis_up'), [0], 'scraped while Redis is down');
    const refused = await fetch(`http://${dmq.addr}/api/v1/tasks/rout/status`);
    assert.equal(refused.status, 503);
    const error = (await refused.json()) as { code: string; message: string };
    assert.equal(error.code, 'REDIS_UNAVAILABLE');
    assert.match(error.message, /unreachable since \d{4}-\d\d-\d\dT/, error.message);

    redis = await startRedis({ dir, port: redis.port, aof: true });
    await scenario.redisBack(dmq);
    // The summary is written once the outage ends; give every connection time to come back.
    await sleep(3000);
    const during = logLines(dmq.output().slice(mark));
    const loud = during.filter((l) => l.level >= 40);
    assert.ok(
      loud.length <= 4,
      `an outage is news, not noise: ${loud.length} warning/error lines:\n${loud.map((l) => JSON.stringify(l)).join('\n')}`,
    );
    const started_ = during.filter((l) => /Redis is unreachable/.test(l.msg));
    assert.equal(started_.length, 1, 'one warning when it starts');
    assert.match(String(started_[0]!.redis), /127\.0\.0\.1:\d+/);
    const ended = during.filter((l) => /Redis is back/.test(l.msg));
    assert.equal(ended.length, 1, 'one summary when it ends');
    assert.ok(Number(ended[0]!.seconds) > 0);
    assert.ok(Number(ended[0]!.reconnectAttempts) >= 2);

    const after = await scrapeMetrics(dmq.addr);
    assert.deepEqual(after.get('dmq_redis_up'), [1]);
    assert.deepEqual(after.get('dmq_redis_outages_total'), [1]);
    assert.ok(after.get('dmq_redis_outage_seconds_total')[0]! > 0);
    const status = (await (await fetch(`http://${dmq.addr}/api/v1/tasks/rout/status`)).json()) as {
      redis: { up: boolean; outages: number; lastOutage?: { seconds: number; reconnectAttempts: number } };
    };
    assert.equal(status.redis?.up, true, JSON.stringify(status));
    assert.equal(status.redis.outages, 1);
    assert.ok(status.redis.lastOutage!.seconds > 0);

    // The task went on by itself: every row written through the outage is on the target.
    await scenario.finish(dmq);

    // Shutdown after an outage finishes within its deadline, cleanly.
    const stopping = dmq.output().length;
    await dmq.stop();
    assert.equal(dmq.child.exitCode, 0, dmq.output().slice(stopping));
    assert.doesNotMatch(dmq.output().slice(stopping), /did not finish|deadline/);
  } finally {
    await scenario.stopWriting();
    await dmq.stop();
    await redis.stop();
  }
});

test('a Redis that evicts is one clear warning at start; SIGTERM while Redis is down: dmq does not wait for it, exits 0 within its deadline and says why', {
  timeout: 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dmq-redis-outage-'));
  const redis = await startRedis({ dir, args: ['--maxmemory-policy', 'allkeys-lru'] });
  const dmq = await startDmq({ env: { REDIS_URL: redis.url } });
  try {
    // Every queue connection is open once the processors have polled their queues.
    await sleep(1500);
    const eviction = logLines(dmq.output()).filter((l) => /allkeys-lru/i.test(l.msg));
    assert.equal(eviction.length, 1, eviction.map((l) => l.msg).join('\n'));
    assert.match(eviction[0]!.msg, /maxmemory-policy noeviction/);
    await redis.stop();
    for (let i = 0; i < 50 && (await fetch(`http://${dmq.addr}/readyz`)).status !== 503; i++) await sleep(100);
    const mark = dmq.output().length;
    await dmq.stop();
    const said = dmq.output().slice(mark);
    assert.equal(dmq.child.exitCode, 0, said);
    assert.doesNotMatch(said, /did not finish|deadline/, 'every step of the shutdown ended by itself');
    assert.match(said, /stopping while Redis is unreachable/);
  } finally {
    await dmq.stop();
    await redis.stop();
  }
});
