import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, waitForStatus } from '../support/dmq.js';
import { execSql, exampleFiles, writeTask } from '../support/fixtures.js';

const server = dmqForFile();

test('a load that collides with a target row pauses with the fix; resume-task finishes exactly', async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE shop',
    'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))',
    "INSERT INTO shop.orders SELECT seq, CONCAT('order ', seq) FROM shop.seq_1_to_5000",
  ]);
  // The target already holds one of the source's keys, with other content.
  await execSql(stack.target, [
    'CREATE DATABASE shop',
    'CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40))',
    "INSERT INTO shop.orders VALUES (4321, 'left over')",
  ]);
  const files = await exampleFiles();
  const taskFile = await writeTask({
    name: 'shop',
    mode: 'full',
    schema: 'shop',
    instance: ['loader-config-name: strict', 'mydumper: { rows: 1000 }'],
    extra: 'loaders:\n  strict: { on-duplicate-logical: error }',
  });
  assert.equal((await runCli(server().addr, ['operate-source', 'create', files.sources[0]!])).code, 0);
  assert.equal((await runCli(server().addr, ['start-task', taskFile])).code, 0);

  const paused = await waitForStatus(server().addr, 'shop', (s) => s.stage !== 'Running', 60_000);
  assert.equal(paused.stage, 'Paused');
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
  assert.match(error.Message, /Duplicate entry '4321'/);
  assert.match(error.Workaround, /on-duplicate-logical/);

  await execSql(stack.target, ['DELETE FROM shop.orders WHERE id = 4321']);
  const resumed = await runCli(server().addr, ['resume-task', 'shop']);
  assert.equal(resumed.code, 0, resumed.stdout);
  const done = await waitForStatus(server().addr, 'shop', (s) => s.stage === 'Finished' || s.stage === 'Paused', 60_000);
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  assert.equal(done.sources[0]!.subTaskStatus[0]!.load.finishedRows, 5000);
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'shop', table: 'orders' }], {
    server: stack.target,
    schema: 'shop',
    table: 'orders',
  });
  assert.equal(actual.length, 5000);
  assert.deepEqual(actual, expected);
});

test('pause-task holds new chunks back; resume-task continues', async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE slow',
    'CREATE TABLE slow.items (id INT PRIMARY KEY, payload VARCHAR(200))',
    "INSERT INTO slow.items SELECT seq, REPEAT('p', 200) FROM slow.seq_1_to_60000",
  ]);
  const taskFile = await writeTask({
    name: 'slow',
    mode: 'full',
    schema: 'slow',
    instance: ['mydumper: { rows: 2000, threads: 1 }', 'loader: { pool-size: 1 }'],
  });
  assert.equal((await runCli(server().addr, ['start-task', taskFile])).code, 0);
  await waitForStatus(server().addr, 'slow', (s) => s.sources[0]!.subTaskStatus[0]!.load.completedChunks >= 1, 60_000);
  assert.equal((await runCli(server().addr, ['pause-task', 'slow'])).code, 0);
  // Running chunks may finish; then nothing moves.
  await new Promise((r) => setTimeout(r, 1500));
  const held = await waitForStatus(server().addr, 'slow', (s) => s.stage === 'Paused', 10_000);
  await new Promise((r) => setTimeout(r, 1500));
  const still = await waitForStatus(server().addr, 'slow', () => true);
  const loaded = (s: typeof held) => s.sources[0]!.subTaskStatus[0]!.load.completedChunks;
  assert.equal(loaded(still), loaded(held), 'no chunk loads while paused');
  assert.ok(loaded(held) < 30, 'paused before the end');

  assert.equal((await runCli(server().addr, ['resume-task', 'slow'])).code, 0);
  const done = await waitForStatus(server().addr, 'slow', (s) => s.stage === 'Finished' || s.stage === 'Paused', 90_000);
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'slow', table: 'items' }], {
    server: stack.target,
    schema: 'slow',
    table: 'items',
  });
  assert.equal(actual.length, 60000);
  assert.deepEqual(actual, expected);
});
