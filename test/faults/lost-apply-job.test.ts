import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import mysql from 'mysql2/promise';
import type { ApplyJob } from '../../src/shared/binlog/batch.js';
import { compareCoords, parseCoordText } from '../../src/shared/binlog/position.js';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, taskStatus, waitForCaughtUp } from '../support/dmq.js';
import { execSql, itemsTable, writeTask } from '../support/fixtures.js';
import { startRowWriter } from '../support/writer.js';

const dmq = dmqForFile({ registerSources: 1 });

/** The apply partition of gap_db.items of source 1, as the reader's sink picks it (16 partitions by default). */
function itemsQueue(redisUrl: string): Queue {
  const partition = createHash('sha1').update('mysql-replica-01\u0000gap_db\u0000items').digest().readUInt32BE(0) % 16;
  const url = new URL(redisUrl);
  return new Queue(`apply.gap.${partition}`, { prefix: 'dmq', connection: { host: url.hostname, port: Number(url.port) } });
}

test('an apply job lost from Redis while its table waits: the appliers notice the gap, the reader cuts the batch again, the table catches up and says what happened', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const [upstream] = stack.upstreams;
  await execSql(upstream, itemsTable('gap_db', 2000));
  const addr = dmq().addr;
  const taskFile = await writeTask({ name: 'gap', mode: 'all', schema: 'gap_db' });
  const started = await runCli(addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  await waitForCaughtUp(addr, 'gap', [upstream]);

  const writer = startRowWriter(upstream, { table: 'gap_db.items', rows: 2000, insertFrom: 100_000, seed: 14 });
  const queue = itemsQueue(stack.redis.url);
  // Hold every row of the table on the target: its jobs queue up behind the one that waits for the locks.
  const holder = await mysql.createConnection(stack.target);
  let lost: ApplyJob | undefined;
  try {
    await holder.query('START TRANSACTION');
    await holder.query('SELECT * FROM gap_db.items FOR UPDATE');
    const deadline = Date.now() + 60_000;
    while (!lost) {
      assert.ok(Date.now() < deadline, 'no apply job of gap_db.items queued up behind the held locks');
      const queued = (await queue.getJobs(['waiting', 'delayed', 'prioritized'])).filter((j) => j?.data);
      queued.sort((a, b) => compareCoords(parseCoordText(a.data.batches[0].coord), parseCoordText(b.data.batches[0].coord)));
      if (queued.length >= 3) {
        // As Redis losing its last second of writes would: the job is gone, nothing else knows.
        await queued[0]!.remove().then(
          () => {
            lost = queued[0]!.data as ApplyJob;
          },
          () => undefined,
        );
      }
      if (!lost) await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
  await new Promise((r) => setTimeout(r, 3000));
  console.log(`transactions written: ${await writer.stop()}; lost job: ${lost.batches[0]!.coord}..${lost.batches.at(-1)!.coord}`);
  await queue.close();

  // The gap shows in query-status while it lasts: which table, at which position.
  let shown: { ErrCode: string; Message: string } | undefined;
  let watching = true;
  const watcher = (async () => {
    while (watching && !shown) {
      const errors = (await taskStatus(addr, 'gap')).sources[0]!.subTaskStatus[0]!.result?.errors ?? [];
      shown = errors.find((e) => e.ErrCode === 'APPLY_GAP');
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const status = await waitForCaughtUp(addr, 'gap', [upstream], 90_000);
  watching = false;
  await watcher;
  assert.match(
    shown?.Message ?? 'not shown',
    /`gap_db`.`items` of source "mysql-replica-01" at binlog\.\d+:\d+: the batch after this position is in no queue/,
  );
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const errors = (status.sources[0]!.subTaskStatus[0]!.result?.errors ?? []).map((e) => e.ErrCode);
  assert.deepEqual(errors, [], 'the gap shown in the status is gone once the batch is back');
  const { expected, actual } = await compareMerged([{ server: upstream, schema: 'gap_db', table: 'items' }], {
    server: stack.target,
    schema: 'gap_db',
    table: 'items',
  });
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
  const logs = dmq().output();
  assert.match(
    logs,
    /"table":"`gap_db`.`items`".*"msg":"a batch is missing; asking the binlog reader to read again"/,
    'the gap is logged with its table',
  );
  assert.match(logs, /an applier misses a batch at or before binlog\.\d+:\d+/, 'the reader says why it reads again');
  assert.match(logs, /the missing batch is back; the table applies again/);
});
