import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { getStack } from '../harness/stack.js';
import { targetKindFromEnv } from '../harness/servers.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, waitForStatus, type TaskStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/** What differs on a TiDB target: these run only when the suite's target is TiDB. */
const skip = targetKindFromEnv() !== 'tidb' && "it checks TiDB's own limits and dialect; this run's target is MariaDB";
const server = dmqForFile({ registerSources: 1 });
const errorOf = (s: TaskStatus) => s.sources.flatMap((src) => src.subTaskStatus[0]!.result?.errors ?? [])[0];

after(async () => {
  if (!skip) await execSql((await getStack()).target, ['SET GLOBAL tidb_txn_entry_size_limit = 0']);
});

test('a row over TiDB txn-entry-size-limit pauses the copy naming the table, key range and limit; raised, the task finishes exactly', {
  skip,
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE big',
    'CREATE TABLE big.t (id INT PRIMARY KEY, b LONGBLOB)',
    "INSERT INTO big.t SELECT seq, REPEAT('s', 100) FROM big.seq_1_to_6",
    "UPDATE big.t SET b = REPEAT('x', 7 * 1024 * 1024) WHERE id = 3",
  ]);
  const task = await writeTask({ name: 'big', mode: 'full', schema: 'big', instance: ['mydumper: { rows: 2 }'] });
  assert.equal((await runCli(server().addr, ['start-task', task])).code, 0);
  const paused = await waitForStatus(server().addr, 'big', (s) => s.stage !== 'Running');
  const error = errorOf(paused)!;
  assert.equal(paused.stage, 'Paused', JSON.stringify(paused, null, 2));
  assert.equal(error.ErrCode, 'TARGET_UNSUPPORTED');
  assert.match(error.Message, /`big`\.`t`.*larger than one entry/s);
  assert.match(error.Message, /\(`id`\) from \(\d+\) up to \(\d+\)/);
  assert.match(error.Workaround, /txn-entry-size-limit/);

  await execSql(stack.target, [`SET GLOBAL tidb_txn_entry_size_limit = ${16 * 1024 * 1024}`]);
  assert.equal((await runCli(server().addr, ['resume-task', 'big'])).code, 0);
  const done = await waitForStatus(server().addr, 'big', (s) => s.stage !== 'Running');
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'big', table: 't' }], {
    server: stack.target,
    schema: 'big',
    table: 't',
  });
  assert.equal(actual.length, 6);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'big'])).code, 0);
});

test("MariaDB's own types, engines and collations TiDB lacks arrive as their nearest TiDB form; a spatial column is refused by name", {
  skip,
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE odd',
    `CREATE TABLE odd.t (id INT PRIMARY KEY, u UUID, a INET4, b INET6,
       l VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_general_ci,
       w VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci,
       c TEXT COMPRESSED) ENGINE=Aria PAGE_CHECKSUM=1`,
    "INSERT INTO odd.t VALUES (1, '123e4567-e89b-12d3-a456-426614174000', '10.0.0.1', '2001:db8::1', 'Åbc', 'wörd', REPEAT('z', 500))",
    'INSERT INTO odd.t VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL)',
    'CREATE DATABASE geo',
    'CREATE TABLE geo.places (id INT PRIMARY KEY, p POINT NOT NULL)',
    'INSERT INTO geo.places VALUES (1, POINT(1, 2))',
  ]);
  const odd = await writeTask({ name: 'odd', mode: 'full', schema: 'odd' });
  assert.equal((await runCli(server().addr, ['start-task', odd])).code, 0);
  const done = await waitForStatus(server().addr, 'odd', (s) => s.stage !== 'Running');
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'odd', table: 't' }], {
    server: stack.target,
    schema: 'odd',
    table: 't',
  });
  assert.equal(actual.length, 2);
  assert.deepEqual(actual, expected);

  // The precheck sees it first; with that item ignored, the copy refuses it at the table.
  const geo = await writeTask({ name: 'geo', mode: 'full', schema: 'geo' });
  assert.equal((await runCli(server().addr, ['start-task', geo])).code, 0);
  const checked = errorOf(await waitForStatus(server().addr, 'geo', (s) => s.stage !== 'Running'))!;
  assert.equal(checked.ErrCode, 'PRECHECK_FAILED');
  assert.match(checked.Message, /target_compatibility.*`geo`\.`places`\.`p` is POINT, and TiDB has no spatial types/s);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'geo'])).code, 0);
  const ignoring = await writeTask({ name: 'geo', mode: 'full', schema: 'geo', extra: 'ignore-checking-items: ["target_compatibility"]' });
  assert.equal((await runCli(server().addr, ['start-task', ignoring])).code, 0);
  const refused = await waitForStatus(server().addr, 'geo', (s) => s.stage !== 'Running');
  assert.equal(refused.stage, 'Paused');
  const error = errorOf(refused)!;
  assert.equal(error.ErrCode, 'TARGET_UNSUPPORTED');
  assert.match(error.Message, /`geo`\.`places`.*`p` is POINT, and TiDB has no spatial types/s);
  assert.match(error.Workaround, /block-allow-list/);
  for (const name of ['odd', 'geo']) assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', name])).code, 0);
});
