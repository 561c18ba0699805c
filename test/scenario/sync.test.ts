import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { runCli, startDmq, waitForStatus, type DmqServer, type TaskStatus, inSync } from '../support/dmq.js';
import { cloneSchema, execSql, exampleFiles, itemsTable, seedTestTables, writeTask } from '../support/fixtures.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { startRowWriter, startWriter } from '../support/writer.js';

let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
});

after(async () => {
  await dmq?.stop();
});

const positionMeta = (from: { file: string; pos: number }) => `meta: { binlog-name: "${from.file}", binlog-pos: ${from.pos} }`;

/** An incremental task of source 01 from `meta`, started on the shared dmq. */
async function startIncremental(
  name: string,
  schema: string,
  meta: string,
  targetPort?: number,
): Promise<{ server: DmqServer; taskFile: string }> {
  const files = await exampleFiles();
  const taskFile = await writeTask({
    name,
    mode: 'incremental',
    schema,
    instance: [meta],
    ...(targetPort === undefined ? {} : { targetPort }),
  });
  dmq ??= await startDmq();
  await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!]);
  const started = await runCli(dmq.addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout);
  return { server: dmq, taskFile };
}

const synced = (s: TaskStatus) =>
  s.sources.every((src) => {
    const sub = src.subTaskStatus[0] as unknown as { unit: string; sync?: { synced: boolean } };
    return sub.unit === 'Sync' && sub.sync?.synced === true;
  });

test('the seed task in all mode: writes during and after the copy reach the target exactly, across a kill -9', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(40_000);
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 7 + i }));
  try {
    const files = await exampleFiles();
    dmq = await startDmq();
    const dumpDir = dmq.dumpDir;
    assert.equal((await runCli(dmq.addr, ['operate-source', 'create', ...files.sources])).code, 0);
    const started = await runCli(dmq.addr, ['start-task', files.task]);
    assert.equal(started.code, 0, started.stdout);

    await waitForStatus(dmq.addr, 'test', inSync, 120_000);
    // Keep writing while syncing, then kill the process holding the reader and the appliers.
    await new Promise((r) => setTimeout(r, 3000));
    await dmq.kill();
    await new Promise((r) => setTimeout(r, 1000));
    dmq = await startDmq({ dumpDir });
    await new Promise((r) => setTimeout(r, 3000));
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 50),
      `writers ran: ${counts.join(', ')} transactions`,
    );
  }

  const status = await waitForStatus(dmq.addr, 'test', (s) => s.stage !== 'Running' || synced(s), 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
});

async function masterPosition(server: Parameters<typeof execSql>[0]): Promise<{ file: string; pos: number; gtid: string }> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
    const [g] = await conn.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    return { file: String(rows[0]!.File), pos: Number(rows[0]!.Position), gtid: String(g[0]!.g) };
  } finally {
    await conn.end();
  }
}

for (const start of ['position', 'gtid'] as const) {
  test(`incremental mode from a ${start}: a 200k-row transaction, bulk updates, a table without a key and one with only a unique key replicate exactly`, {
    timeout: 240_000,
  }, async () => {
    const stack = await getStack();
    const db = `inc_${start}`;
    const setup = [
      `CREATE DATABASE ${db}`,
      `CREATE TABLE ${db}.items (id INT PRIMARY KEY, v VARCHAR(40), n DECIMAL(30,10), t TIME, y YEAR)`,
      `CREATE TABLE ${db}.nokey (a INT, b VARCHAR(10))`,
      // No primary key, but a unique key over NOT NULL columns that identifies rows.
      `CREATE TABLE ${db}.ukey (a INT NOT NULL, b VARCHAR(10), f FLOAT, UNIQUE KEY ua (a))`,
      // A second unique key: rows shifted along it collide unless updated in binlog order.
      `CREATE TABLE ${db}.shift (id INT PRIMARY KEY, code INT NOT NULL, UNIQUE KEY uc (code))`,
      `INSERT INTO ${db}.shift SELECT seq, seq FROM ${db}.seq_1_to_50`,
      `INSERT INTO ${db}.items VALUES (1, 'before', 1.5, '-01:00:00', 0), (2, 'before', NULL, NULL, NULL)`,
      `INSERT INTO ${db}.nokey VALUES (1, 'x'), (1, 'x'), (2, 'y')`,
      `INSERT INTO ${db}.ukey VALUES (1, 'x', 0.1), (2, 'y', NULL), (3, 'z', 1e30)`,
    ];
    // Incremental mode starts from a position: the target already holds what was there before it.
    await execSql(stack.upstreams[0], setup);
    await cloneSchema(stack.upstreams[0], stack.target, db);
    const from = await masterPosition(stack.upstreams[0]);
    await execSql(stack.upstreams[0], [
      `INSERT INTO ${db}.items SELECT seq + 10, CONCAT('bulk ', seq), seq / 7, SEC_TO_TIME(-seq), 2000 + seq % 100 FROM ${db}.seq_1_to_200000`,
      `UPDATE ${db}.items SET v = 'changed', id = id + 1000000 WHERE id = 1`,
      `DELETE FROM ${db}.items WHERE id BETWEEN 100 AND 199`,
      `UPDATE ${db}.nokey SET b = 'z' WHERE a = 1 LIMIT 1`,
      `DELETE FROM ${db}.nokey WHERE a = 2`,
      `INSERT INTO ${db}.nokey VALUES (3, NULL)`,
      `UPDATE ${db}.ukey SET b = 'changed', f = f * 2 WHERE a IN (1, 3)`,
      `UPDATE ${db}.items SET n = n + 1, t = NULL WHERE id % 3 = 0`,
      `UPDATE ${db}.shift SET code = code + 1 ORDER BY code DESC`,
      `UPDATE ${db}.ukey SET a = 20 WHERE a = 2`,
      `DELETE FROM ${db}.ukey WHERE a = 3`,
    ]);
    const { server } = await startIncremental(
      db.replace('_', '-'),
      db,
      start === 'position' ? positionMeta(from) : `meta: { binlog-gtid: "${from.gtid}" }`,
    );
    const status = await waitForStatus(server.addr, db.replace('_', '-'), (s) => s.stage !== 'Running' || synced(s), 180_000);
    assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
    for (const table of ['items', 'nokey', 'ukey', 'shift']) {
      const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: db, table }], {
        server: stack.target,
        schema: db,
        table,
      });
      assert.equal(actual.length, expected.length, table);
      assert.deepEqual(actual, expected, table);
    }
    assert.equal((await runCli(server.addr, ['stop-task', '--remove-meta', db.replace('_', '-')])).code, 0);
  });
}

test('pause, resume, stop and start again during sync: lag shows while paused, nothing lost or doubled', { timeout: 240_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], itemsTable('ctl', 5000));
  await cloneSchema(stack.upstreams[0], stack.target, 'ctl');
  const { server, taskFile } = await startIncremental('ctl', 'ctl', positionMeta(await masterPosition(stack.upstreams[0])));
  const writer = startRowWriter(stack.upstreams[0], { table: 'ctl.items', rows: 5000, insertFrom: 10_000, seed: 9 });
  const sub = (s: TaskStatus) => s.sources[0]!.subTaskStatus[0]!;
  await waitForStatus(server.addr, 'ctl', (s) => (sub(s).sync?.totalEvents ?? 0) > 200, 60_000);

  assert.equal((await runCli(server.addr, ['pause-task', 'ctl'])).code, 0);
  const pausedAt = writer.writes();
  // The source keeps writing; the paused task must say it is behind, not synced.
  const lagging = await waitForStatus(
    server.addr,
    'ctl',
    (s) => s.stage === 'Paused' && (sub(s).sync?.secondsBehindMaster ?? 0) >= 2,
    30_000,
  );
  assert.equal(sub(lagging).sync?.synced, false);
  assert.ok(writer.writes() > pausedAt, 'the source was written while the task was paused');

  assert.equal((await runCli(server.addr, ['resume-task', 'ctl'])).code, 0);
  await waitForStatus(server.addr, 'ctl', (s) => s.stage === 'Running' && (sub(s).sync?.totalEvents ?? 0) > 100, 60_000);
  // stop-task without --remove-meta keeps the checkpoints: start-task continues from them.
  assert.equal((await runCli(server.addr, ['stop-task', 'ctl'])).code, 0);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await runCli(server.addr, ['start-task', taskFile])).code, 0);
  await writer.stop();

  const status = await waitForStatus(server.addr, 'ctl', (s) => s.stage !== 'Running' || synced(s), 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  assert.equal(sub(status).sync?.secondsBehindMaster, 0);
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'ctl', table: 'items' }], {
    server: stack.target,
    schema: 'ctl',
    table: 'items',
  });
  assert.equal(actual.length, expected.length);
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(server.addr, ['stop-task', '--remove-meta', 'ctl'])).code, 0);
});

test('target unreachable during sync: the task keeps running, shows the error, and continues by itself', { timeout: 240_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], itemsTable('outage', 5000));
  await cloneSchema(stack.upstreams[0], stack.target, 'outage');
  const from = await masterPosition(stack.upstreams[0]);
  const proxy = await startTcpProxy(stack.target);
  try {
    const { server } = await startIncremental('outage', 'outage', positionMeta(from), proxy.port);
    const writer = startRowWriter(stack.upstreams[0], { table: 'outage.items', rows: 5000, insertFrom: 10_000, seed: 11 });
    const sub = (s: TaskStatus) => s.sources[0]!.subTaskStatus[0]!;
    await waitForStatus(server.addr, 'outage', (s) => (sub(s).sync?.totalEvents ?? 0) > 200, 60_000);

    proxy.cut();
    const down = await waitForStatus(
      server.addr,
      'outage',
      (s) => sub(s).result?.errors.some((e) => e.Message.includes('cannot be reached')) ?? false,
      60_000,
    );
    assert.equal(down.stage, 'Running', 'an unreachable target does not pause the task');
    assert.match(sub(down).result!.errors[0]!.Workaround, /continues by itself/);
    await new Promise((r) => setTimeout(r, 2000));
    proxy.restore();
    await writer.stop();

    const status = await waitForStatus(
      server.addr,
      'outage',
      (s) => s.stage !== 'Running' || (synced(s) && sub(s).result === null),
      180_000,
    );
    assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
    const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'outage', table: 'items' }], {
      server: stack.target,
      schema: 'outage',
      table: 'items',
    });
    assert.equal(actual.length, expected.length);
    assert.deepEqual(actual, expected);
    assert.equal((await runCli(server.addr, ['stop-task', '--remove-meta', 'outage'])).code, 0);
  } finally {
    await proxy.close();
  }
});

test('a batch the target rejects pauses the task at its position; binlog skip and binlog replace resolve it', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], ['CREATE DATABASE rej', 'CREATE TABLE rej.t (id INT PRIMARY KEY, code INT)']);
  // The target has a unique key the source lacks: a second row with the same code cannot go in.
  await execSql(stack.target, ['CREATE DATABASE rej', 'CREATE TABLE rej.t (id INT PRIMARY KEY, code INT, UNIQUE KEY uc (code))']);
  const from = await masterPosition(stack.upstreams[0]);
  await execSql(stack.upstreams[0], [
    'INSERT INTO rej.t VALUES (1, 5)',
    'INSERT INTO rej.t VALUES (2, 5)',
    'INSERT INTO rej.t VALUES (3, 6)',
  ]);
  const { server } = await startIncremental('rej', 'rej', positionMeta(from));

  const rejectedAt = async () => {
    const paused = await waitForStatus(server.addr, 'rej', (s) => s.stage !== 'Running', 60_000);
    assert.equal(paused.stage, 'Paused', JSON.stringify(paused, null, 2));
    const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]! as unknown as {
      ErrCode: string;
      ErrScope: string;
      Message: string;
      Workaround: string;
    };
    assert.equal(error.ErrCode, 'APPLY_REJECTED');
    assert.match(error.Message, /Duplicate entry/);
    assert.match(error.Workaround, /dmq binlog skip rej -b /);
    return error.ErrScope;
  };
  const targetRows = async () => {
    const conn = await mysql.createConnection(stack.target);
    try {
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT id, code FROM rej.t ORDER BY id');
      return rows.map((r) => [Number(r.id), Number(r.code)]);
    } finally {
      await conn.end();
    }
  };

  const first = await rejectedAt();
  assert.deepEqual(await targetRows(), [[1, 5]], 'the batch before the rejected one is applied, nothing after it');
  const wrong = await runCli(server.addr, ['binlog', 'skip', 'rej', '-b', `${first.split(':')[0]}:4`]);
  assert.equal(wrong.json.result, false);
  assert.match(String(wrong.json.msg), new RegExp(`paused at ${first.replace(/[.#]/g, '\\$&')}`));

  assert.equal((await runCli(server.addr, ['binlog', 'skip', 'rej', '-b', first])).json.result, true);
  await execSql(stack.upstreams[0], [
    'INSERT INTO rej.t VALUES (4, 7)',
    'INSERT INTO rej.t VALUES (5, 7)',
    'INSERT INTO rej.t VALUES (6, 8)',
  ]);
  const second = await rejectedAt();
  assert.notEqual(second, first);
  assert.deepEqual(await targetRows(), [
    [1, 5],
    [3, 6],
    [4, 7],
  ]);

  const replaced = await runCli(server.addr, [
    'binlog',
    'replace',
    'rej',
    '-b',
    second,
    '-s',
    'mysql-replica-01',
    'INSERT INTO rej.t VALUES (5, 70)',
  ]);
  assert.equal(replaced.json.result, true, replaced.stdout);
  const status = await waitForStatus(server.addr, 'rej', (s) => s.stage !== 'Running' || synced(s), 60_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  assert.deepEqual(await targetRows(), [
    [1, 5],
    [3, 6],
    [4, 7],
    [5, 70],
    [6, 8],
  ]);
  assert.equal((await runCli(server.addr, ['stop-task', '--remove-meta', 'rej'])).code, 0);
});

test('a start position the source no longer has (purged, before its oldest binlog) pauses the task naming it and the fix', {
  timeout: 120_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], ['CREATE DATABASE IF NOT EXISTS purged', 'CREATE TABLE purged.t (id INT PRIMARY KEY)']);
  // A purged file is one the server's index no longer lists, as is every file before its oldest.
  // Purging for real needs every reader of this upstream off the file, and the readers of other
  // test files share it (a paused task's reader can hold its file for minutes).
  const conn = await mysql.createConnection(stack.upstreams[0]);
  const [logs] = await conn.query<mysql.RowDataPacket[]>('SHOW BINARY LOGS');
  await conn.end();
  const oldest = String(logs[0]!.Log_name);
  const [, prefix, number] = /^(.*\.)(\d+)$/.exec(oldest)!;
  const before = { file: `${prefix}${String(Number(number) - 1).padStart(number!.length, '0')}`, pos: 4 };
  const files = await exampleFiles();
  const taskFile = await writeTask({
    name: 'purged',
    mode: 'incremental',
    schema: 'purged',
    instance: [`meta: { binlog-name: "${before.file}", binlog-pos: ${before.pos} }`],
  });
  dmq ??= await startDmq();
  await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!]);
  assert.equal((await runCli(dmq.addr, ['start-task', taskFile])).code, 0);
  const status = await waitForStatus(dmq.addr, 'purged', (s) => s.stage !== 'Running', 60_000);
  assert.equal(status.stage, 'Paused');
  const error = status.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
  assert.match(error.Message, new RegExp(`cannot serve its binlog from ${before.file.replace('.', '\\.')}:${before.pos}`));
  assert.match(error.Workaround, /purged or never existed/);
});
