import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { targetKindFromEnv } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus, inSync } from '../support/dmq.js';
import { execSql } from '../support/fixtures.js';
import { startShardWriter } from '../support/writer.js';

const dmq = dmqForFile({ registerSources: 2 });

/** Four shards on each upstream, merged into one target table. */
const TABLES = ['t_0', 't_1', 't_2', 't_3'];
const SHARDS = 8;
const ROWS = 4000;
/** Per shard: enough to run through the copy and on into sync, bounded so a slow target catches up. */
const TRANSACTIONS = 1200;
/** The deadlocks come from InnoDB's next-key locks on a unique secondary key; TiDB takes no gap locks. */
const skip = targetKindFromEnv() === 'tidb' && 'TiDB takes no gap locks, so these writes do not deadlock there (0 conflicts seen)';

/** The sum of a /metrics series of the task over the label sets that match `labels`. */
async function metricSum(addr: string, name: string, labels: RegExp): Promise<number> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes('task="merge"') && labels.test(l));
  return lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

test('eight shards on two upstreams merge into one table under writers on all of them at once: deadlocks are retried, the task keeps running and every row is equal', {
  skip,
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  for (const [u, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE shard_db',
      ...TABLES.flatMap((t, j) => [
        `CREATE TABLE shard_db.${t} (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40), KEY (k))`,
        `INSERT INTO shard_db.${t} SELECT seq * ${SHARDS} + ${u * 4 + j}, seq % 40, CONCAT('row ', seq) FROM shard_db.seq_0_to_${ROWS - 1}`,
      ]),
    ]);
  }
  await execSql(stack.target, [
    'CREATE DATABASE merged_db',
    'CREATE TABLE merged_db.items (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40), UNIQUE KEY by_k (k, id))',
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'dmq-merge-'));
  const taskFile = join(dir, 'merge.yaml');
  await writeFile(
    taskFile,
    [
      'name: merge',
      'task-mode: all',
      `target-database: { host: 127.0.0.1, port: ${stack.target.port}, user: root, password: "" }`,
      'mysql-instances:',
      ...['mysql-replica-01', 'mysql-replica-02'].flatMap((id) => [
        `  - source-id: ${id}`,
        '    block-allow-list: shards',
        '    route-rules: [merge]',
      ]),
      'block-allow-list:',
      '  shards: { do-dbs: [shard_db] }',
      'routes:',
      '  merge: { schema-pattern: shard_db, table-pattern: "t_*", target-schema: merged_db, target-table: items }',
    ].join('\n'),
  );
  const writers = stack.upstreams.flatMap((upstream, u) =>
    TABLES.map((t, j) =>
      startShardWriter(upstream, {
        table: `shard_db.${t}`,
        shard: u * 4 + j,
        shards: SHARDS,
        seed: 100 + u * 4 + j,
        transactions: TRANSACTIONS,
      }),
    ),
  );
  const addr = dmq().addr;
  try {
    const started = await runCli(addr, ['start-task', taskFile]);
    assert.equal(started.code, 0, started.stdout + started.stderr);
    // Writers run through the copy, the replay of the copy window (safe mode) and plain sync.
    await waitForStatus(addr, 'merge', inSync, 90_000);
    await new Promise((r) => setTimeout(r, 10_000));
  } finally {
    const writes = await Promise.all(writers.map((w) => w.stop()));
    console.log(`transactions written per shard: ${writes.join(', ')}`);
  }
  const status = await waitForCaughtUp(addr, 'merge', stack.upstreams, 120_000);
  console.log(`lock conflicts waited out: ${await metricSum(addr, 'dmq_apply_lock_conflicts', /./)}`);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  // A deadlock between shards' jobs is no failure of either: it uses none of a job's attempts.
  assert.equal(await metricSum(addr, 'dmq_job_failures', /unit="apply"/), 0, 'no apply job attempt failed');
  const { expected, actual } = await compareMerged(
    stack.upstreams.flatMap((server) => TABLES.map((table) => ({ server, schema: 'shard_db', table }))),
    { server: stack.target, schema: 'merged_db', table: 'items' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});
