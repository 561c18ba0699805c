import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import { dmqForFile, runCli, waitForStatus, type TaskStatus } from '../support/dmq.js';
import { execSql, itemsTable, writeTask } from '../support/fixtures.js';
import { scrapeMetrics as scrape } from '../support/metrics.js';

const server = dmqForFile({ registerSources: 1 });

const synced = (s: TaskStatus) => s.sources[0]!.subTaskStatus[0]!.unit === 'Sync' && s.sources[0]!.subTaskStatus[0]!.sync?.synced === true;

test('/metrics exposes copy, replication, apply and queue figures with the values of a running task', { timeout: 180_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], itemsTable('met', 3000));
  assert.equal(
    (
      await runCli(server().addr, [
        'start-task',
        await writeTask({ name: 'met', mode: 'all', schema: 'met', instance: ['mydumper: { rows: 500 }'] }),
      ])
    ).code,
    0,
  );
  await waitForStatus(server().addr, 'met', (s) => s.stage !== 'Running' || synced(s), 120_000);

  // 300 transactions of one row each, after the copy: exactly 300 batches and rows to apply.
  const conn = await mysql.createConnection(stack.upstreams[0]);
  try {
    for (let id = 1; id <= 300; id++) await conn.query('UPDATE met.items SET k = k + 1 WHERE id = ?', [id]);
  } finally {
    await conn.end();
  }
  const ours = { task: 'met', source: 'mysql-replica-01' };
  const deadline = Date.now() + 60_000;
  let m = await scrape(server().addr);
  // The apply counters are live; the reader's figures (events read, synced) are what it last
  // published, at most half a second old: wait for both.
  const behind = () =>
    (m.get('dmq_apply_rows', ours)[0] ?? 0) < 300 ||
    (m.get('dmq_replication_events_read', ours)[0] ?? 0) < 300 ||
    m.get('dmq_replication_synced', ours)[0] !== 1;
  while (behind()) {
    assert.ok(Date.now() < deadline, `the updates were not applied in time:\n${m.text}`);
    await new Promise((r) => setTimeout(r, 300));
    m = await scrape(server().addr);
  }

  assert.deepEqual(m.get('dmq_task_stage', { task: 'met', stage: 'Running' }), [1]);
  assert.deepEqual(m.get('dmq_source_unit', { ...ours, unit: 'Sync' }), [1]);
  assert.deepEqual(m.get('dmq_dump_rows', ours), [3000]);
  assert.deepEqual(m.get('dmq_load_rows', ours), [3000]);
  assert.ok(m.get('dmq_dump_bytes', ours)[0]! > 3000 * 10);
  const planned = m.get('dmq_chunks', { ...ours, state: 'planned' })[0]!;
  assert.ok(planned >= 6, `3000 rows in chunks of 500: ${planned} chunks`);
  assert.deepEqual(m.get('dmq_chunks', { ...ours, state: 'loaded' }), [planned]);

  assert.deepEqual(m.get('dmq_apply_rows', ours), [300]);
  assert.deepEqual(m.get('dmq_apply_batches', ours), [300]);
  const jobs = m.get('dmq_apply_jobs', ours)[0]!;
  assert.ok(jobs >= 1 && jobs <= 300, `${jobs} apply jobs`);
  const buckets = m.get('dmq_apply_seconds_bucket', ours);
  assert.equal(buckets.length, 12, 'eleven bounds and +Inf');
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!, 'buckets are cumulative');
  assert.deepEqual(m.get('dmq_apply_seconds_bucket', { ...ours, le: '+Inf' }), [jobs]);
  assert.deepEqual(m.get('dmq_apply_seconds_count', ours), [jobs]);
  assert.ok(m.get('dmq_apply_seconds_sum', ours)[0]! > 0);

  assert.deepEqual(m.get('dmq_replication_lag_seconds', ours), [0]);
  assert.deepEqual(m.get('dmq_replication_pending_batches', ours), [0]);
  assert.ok(m.get('dmq_replication_events_read', ours)[0]! >= 300);
  const applied = m.get('dmq_binlog_position', { ...ours, position: 'applied' })[0]!;
  assert.ok(applied > 4);
  assert.deepEqual(m.get('dmq_binlog_position', { ...ours, position: 'master' }), [applied], 'synced: applied up to the source end');
  assert.ok(m.get('dmq_binlog_file_number', { ...ours, position: 'applied' })[0]! >= 1);

  assert.deepEqual(m.get('dmq_queue_jobs', { queue: 'apply.met.0', state: 'failed' }), [0]);
  assert.deepEqual(m.get('dmq_queue_jobs', { queue: 'load.met.mysql-replica-01', state: 'wait' }), [0]);
  assert.ok(m.get('dmq_process_resident_memory_bytes')[0]! > 10 << 20);
  // The Grafana dashboard in docs/ queries only series dmq exposes.
  const dashboard = await readFile(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
  const queried = new Set([...dashboard.matchAll(/dmq_[a-z_]+/g)].map((x) => x[0]));
  assert.ok(queried.size >= 10);
  for (const name of queried)
    assert.ok(
      m.get(name).length > 0 || m.text.includes(`# TYPE ${name} `),
      `docs/grafana-dashboard.json queries ${name}, which /metrics does not expose`,
    );
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'met'])).code, 0);
  assert.deepEqual((await scrape(server().addr)).get('dmq_apply_rows', ours), [], 'a removed task leaves no series');
});
