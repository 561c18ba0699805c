import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForStatus, type DmqServer } from '../support/dmq.js';
import { exampleFiles, exampleTaskForDatabase, execSql } from '../support/fixtures.js';
import { scrapeMetrics } from '../support/metrics.js';

const BUDGET_MIB = 4;
/** A row's blob: rendered as hex it is 400 kB, so a few rows fill the budget and four chunks at once would pass it. */
const BLOB_BYTES = 200_000;

let dmq: DmqServer;

before(async () => {
  await resetDatabases();
  dmq = await startDmq({ env: { DMQ_COPY_BUFFER_MIB: String(BUDGET_MIB) } });
});

after(async () => {
  await dmq?.stop();
});

test('four chunks of wide rows copied at once hold no more than the process budget, every row exact', async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    const first = i * 1000 + 1;
    const rows = i === 0 ? 32 : 12;
    await execSql(upstream, [
      'CREATE DATABASE wide_db',
      'CREATE TABLE wide_db.blobs (id INT PRIMARY KEY, b LONGBLOB, t TEXT CHARACTER SET utf8mb4)',
      // Every row different: its id's bytes repeated, and a text with characters beyond ASCII.
      `INSERT INTO wide_db.blobs SELECT seq, REPEAT(UNHEX(SHA2(seq, 256)), ${BLOB_BYTES / 32}), CONCAT('rang é ', seq, ' 😀')
         FROM wide_db.seq_${first}_to_${first + rows - 1}`,
    ]);
  }
  const files = await exampleFiles({ taskMode: 'full' });
  await exampleTaskForDatabase(files.task, { name: 'wide', db: 'wide_db', mydumper: '    threads: 4\n    rows: 4' });
  const created = await runCli(dmq.addr, ['operate-source', 'create', ...files.sources]);
  assert.equal(created.code, 0, created.stdout + created.stderr);
  const started = await runCli(dmq.addr, ['start-task', files.task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const status = await waitForStatus(dmq.addr, 'wide', (s) => s.stage === 'Finished' || s.stage === 'Paused');
  assert.equal(status.stage, 'Finished', JSON.stringify(status, null, 2));

  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'wide_db', table: 'blobs' })),
    { server: stack.target, schema: 'wide_db', table: 'blobs' },
  );
  assert.equal(actual.length, 44);
  assert.deepEqual(actual, expected);

  const metrics = await scrapeMetrics(dmq.addr);
  const [peak] = metrics.get('dmq_copy_buffer_peak_bytes');
  assert.ok(peak !== undefined && peak >= 2 * BLOB_BYTES, `the rows went through the budget: peak ${peak}`);
  assert.ok(peak <= BUDGET_MIB << 20, `held ${peak} bytes at once, over the ${BUDGET_MIB} MiB budget`);
  assert.deepEqual(metrics.get('dmq_copy_buffer_bytes'), [0]);
});
