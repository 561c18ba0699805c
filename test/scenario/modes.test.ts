import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, taskStatus, waitForStatus } from '../support/dmq.js';
import { startRowWriter } from '../support/writer.js';
import { execSql, itemsTable, writeTask } from '../support/fixtures.js';

const server = dmqForFile({ registerSources: 1 });

const taskFile = (mode: string) => writeTask({ name: 'stock', mode, schema: 'stock', instance: ['mydumper: { rows: 500 }'] });

async function targetHasSchema(name: string): Promise<boolean> {
  const conn = await mysql.createConnection((await getStack()).target);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name = ?', [
      name,
    ]);
    return Number(rows[0]!.n) > 0;
  } finally {
    await conn.end();
  }
}

test('load mode without an earlier dump pauses with what to do', async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE stock',
    'CREATE TABLE stock.parts (id INT PRIMARY KEY, name VARCHAR(30))',
    "INSERT INTO stock.parts SELECT seq, CONCAT('part ', seq) FROM stock.seq_1_to_3000",
  ]);
  assert.equal((await runCli(server().addr, ['start-task', await taskFile('load')])).code, 0);
  const status = await waitForStatus(server().addr, 'stock', (s) => s.stage !== 'Running', 60_000);
  assert.equal(status.stage, 'Paused');
  const error = status.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
  assert.match(error.Message, /load mode.*no dump of it is recorded/);
  assert.match(error.Workaround, /task-mode: dump first/);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'stock'])).code, 0);
});

test('dump mode leaves chunk files and no rows; load mode of the same task loads them exactly', async () => {
  const stack = await getStack();
  assert.equal((await runCli(server().addr, ['start-task', await taskFile('dump')])).code, 0);
  const dumped = await waitForStatus(server().addr, 'stock', (s) => s.stage !== 'Running', 60_000);
  assert.equal(dumped.stage, 'Finished', JSON.stringify(dumped, null, 2));
  assert.equal(dumped.sources[0]!.subTaskStatus[0]!.dump.finishedRows, 3000);
  assert.equal(await targetHasSchema('stock'), false, 'dump mode writes no rows to the target');
  const chunkFiles = (await readdir(server().dumpDir, { recursive: true })).filter((f) => String(f).endsWith('.sql'));
  assert.equal(chunkFiles.length, dumped.sources[0]!.subTaskStatus[0]!.dump.totalChunks);

  // Stopping without --remove-meta keeps the plan and the files for the load run.
  assert.equal((await runCli(server().addr, ['stop-task', 'stock'])).code, 0);
  assert.equal((await runCli(server().addr, ['start-task', await taskFile('load')])).code, 0);
  const loaded = await waitForStatus(server().addr, 'stock', (s) => s.stage !== 'Running', 60_000);
  assert.equal(loaded.stage, 'Finished', JSON.stringify(loaded, null, 2));
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'stock', table: 'parts' }], {
    server: stack.target,
    schema: 'stock',
    table: 'parts',
  });
  assert.equal(actual.length, 3000);
  assert.deepEqual(actual, expected);
});

test('full mode replays what the source wrote during the copy and ends equal to the source, without a global lock', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], itemsTable('flux', 60_000));
  // Writes across the whole key range while chunks are being dumped: rows of chunks already
  // dumped change afterwards, which only the binlog replay can bring to the target.
  const writer = startRowWriter(stack.upstreams[0], { table: 'flux.items', rows: 60_000, insertFrom: 100_000, seed: 5 });
  const file = await writeTask({ name: 'flux', mode: 'full', schema: 'flux', instance: ['mydumper: { rows: 300, threads: 1 }'] });
  assert.equal((await runCli(server().addr, ['start-task', file])).code, 0);
  await waitForStatus(server().addr, 'flux', (s) => s.sources[0]!.subTaskStatus[0]!.dump.completedChunks >= 2, 60_000);
  const writesAtFirstChunks = writer.writes();
  while (writer.writes() < writesAtFirstChunks + 300) await new Promise((r) => setTimeout(r, 20));
  assert.equal((await runCli(server().addr, ['pause-task', 'flux'])).code, 0);
  const paused = await taskStatus(server().addr, 'flux');
  const dump = paused.sources[0]!.subTaskStatus[0]!.dump;
  assert.ok(
    dump.completedChunks < dump.totalChunks,
    `the dump must still be running when the writes stop (${dump.completedChunks}/${dump.totalChunks}); make the table larger`,
  );
  await writer.stop();

  assert.equal((await runCli(server().addr, ['resume-task', 'flux'])).code, 0);
  const done = await waitForStatus(server().addr, 'flux', (s) => s.stage !== 'Running', 150_000);
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  const sub = done.sources[0]!.subTaskStatus[0]!;
  assert.ok((sub.sync?.totalEvents ?? 0) >= 200, `the writes between the watermarks were replayed: ${sub.sync?.totalEvents} row events`);
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'flux', table: 'items' }], {
    server: stack.target,
    schema: 'flux',
    table: 'items',
  });
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'flux'])).code, 0);
});

test('query-status --watch outside a terminal prints one JSON line per refresh until the task finishes', { timeout: 120_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE watched',
    'CREATE TABLE watched.t (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO watched.t SELECT seq, CONCAT('v', seq) FROM watched.seq_1_to_20000",
  ]);
  const file = await writeTask({ name: 'watched', mode: 'full', schema: 'watched', instance: ['mydumper: { rows: 1000, threads: 1 }'] });
  assert.equal((await runCli(server().addr, ['start-task', file])).code, 0);
  const watched = await runCli(server().addr, ['query-status', '--watch', '0.2', 'watched']);
  assert.equal(watched.code, 0, watched.stderr);
  const lines = watched.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time: string; stage: string; sources: { subTaskStatus: { unit: string }[] }[] });
  assert.ok(lines.length >= 2, `several refreshes: ${lines.length}`);
  assert.ok(lines.every((l) => !Number.isNaN(Date.parse(l.time))));
  assert.equal(lines.at(-1)!.stage, 'Finished');
  assert.ok(
    lines.slice(0, -1).every((l) => l.stage === 'Running'),
    'it stopped at the first settled status',
  );
  // Nothing reached the source's binlog during the copy, so there was nothing to replay.
  const readers = server()
    .output()
    .split('\n')
    .filter((line) => line.includes('"task":"watched"') && line.includes('binlog reader lease taken'));
  assert.deepEqual(readers, [], 'a full task over a quiet source finishes without starting a binlog reader');
  const bad = await runCli(server().addr, ['query-status', '--watch', '0']);
  assert.equal(bad.code, 1);
  assert.match(String(bad.json.msg), /follows one task/);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'watched'])).code, 0);
});

test('full mode with a user who may read tables but not the binlog copies exactly and says the writes during it are not replayed', {
  timeout: 120_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE ronly',
    'CREATE TABLE ronly.t (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO ronly.t SELECT seq, CONCAT('v', seq) FROM ronly.seq_1_to_3000",
    "CREATE USER IF NOT EXISTS 'tablereader'@'%' IDENTIFIED BY 'reader-pass-1'",
    "GRANT SELECT ON ronly.* TO 'tablereader'@'%'",
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'dmq-ronly-'));
  const sourceFile = join(dir, 'source.yaml');
  await writeFile(
    sourceFile,
    `source-id: ronly-source\nfrom: { host: 127.0.0.1, port: ${stack.upstreams[0].port}, user: tablereader, password: "reader-pass-1" }\n`,
  );
  assert.equal((await runCli(server().addr, ['operate-source', 'create', sourceFile])).code, 0);
  const taskFile = await writeTask({ name: 'ronly', mode: 'full', schema: 'ronly' });
  await writeFile(taskFile, (await readFile(taskFile, 'utf8')).replace('source-id: mysql-replica-01', 'source-id: ronly-source'));
  assert.equal((await runCli(server().addr, ['start-task', taskFile])).code, 0);
  const done = await waitForStatus(server().addr, 'ronly', (s) => s.stage !== 'Running', 90_000);
  assert.equal(done.stage, 'Finished', JSON.stringify(done, null, 2));
  const sub = done.sources[0]!.subTaskStatus[0]! as unknown as { unit: string; consistency: string };
  assert.equal(sub.unit, 'Load');
  assert.match(
    sub.consistency,
    /writes during the copy are not replayed because .*tablereader.* lacks REPLICATION SLAVE and REPLICATION CLIENT/,
  );
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'ronly', table: 't' }], {
    server: stack.target,
    schema: 'ronly',
    table: 't',
  });
  assert.equal(actual.length, 3000);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'ronly'])).code, 0);
  assert.equal((await runCli(server().addr, ['operate-source', 'stop', 'ronly-source'])).code, 0);
});
