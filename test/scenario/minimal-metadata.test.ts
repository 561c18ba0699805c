import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { startMariadb, type MariadbServer } from '../harness/mariadb.js';
import { removeOnExit } from '../harness/proc.js';
import type { Endpoint } from '../harness/servers.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { inSync, runCli, startDmq, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, masterPosition, writeTask } from '../support/fixtures.js';
import { until } from '../support/shard-locks.js';
import { compareCoords } from '../../src/shared/binlog/position.js';
import { columnsOf } from '../support/schema.js';
import { startRowWriter } from '../support/writer.js';

/**
 * A source whose binlog names no columns (binlog_row_metadata=MINIMAL, the default of MySQL 8 and
 * Aurora MySQL 3): dmq decodes its rows with the definitions its schema tracker keeps, through
 * ADD and DROP COLUMN under writers and a kill -9 right after a DDL. The server is this file's
 * own: the shared stack's upstreams log FULL metadata.
 */

const SOURCE = 'minimal-src';
const TASK = 'minimal';
const ROOT_PASSWORD = 'minimal-pw';

let dir: string;
let upstream: MariadbServer;
let source: Endpoint;
let dmq: DmqServer | undefined;

before(async () => {
  await resetDatabases();
  dir = await mkdtemp(join(tmpdir(), 'dmq-minimal-'));
  removeOnExit(dir);
  upstream = await startMariadb({
    dir: join(dir, 'upstream'),
    serverId: 31,
    binlog: true,
    rootPassword: ROOT_PASSWORD,
    rowMetadata: 'MINIMAL',
  });
  source = { host: '127.0.0.1', port: upstream.port, user: 'root', password: ROOT_PASSWORD };
});

after(async () => {
  await dmq?.stop();
  await upstream?.stop();
});

const cli = async (args: string[]) => {
  const out = await runCli(dmq!.addr, args);
  assert.equal(out.code, 0, `dmq ${args.join(' ')}:\n${out.stdout}${out.stderr}`);
  return JSON.parse(out.stdout) as Record<string, unknown>;
};

async function assertEqualRows(): Promise<void> {
  const stack = await getStack();
  assert.deepEqual(await columnsOf(stack.target, 'mm', 'items'), await columnsOf(source, 'mm', 'items'), 'columns');
  const { expected, actual } = await compareMerged([{ server: source, schema: 'mm', table: 'items' }], {
    server: stack.target,
    schema: 'mm',
    table: 'items',
  });
  assert.equal(actual.length, expected.length, 'row count');
  assert.deepEqual(actual, expected, 'every row');
}

test('all mode from a MINIMAL-metadata source: writers, ADD and DROP COLUMN, kill -9 after a DDL, every row equal', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  const conn = await mysql.createConnection(source);
  try {
    const [vars] = await conn.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.binlog_row_metadata AS m');
    assert.equal(vars[0]!.m, 'MINIMAL');
  } finally {
    await conn.end();
  }
  await execSql(source, [
    'CREATE DATABASE mm',
    `CREATE TABLE mm.items (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40), old_col VARCHAR(10) DEFAULT 'old',
      price DECIMAL(10,2), note TEXT CHARACTER SET latin1, big INT UNSIGNED, kind ENUM('a','b','c') DEFAULT 'b')`,
    `INSERT INTO mm.items SELECT seq, seq % 97, CONCAT('item ', seq), CONCAT('o', seq % 9), seq / 7, CONCAT('caf', CHAR(233), ' ', seq),
      4000000000 + seq, ELT(1 + seq % 3, 'a', 'b', 'c') FROM mm.seq_1_to_20000`,
    // Not migrated: its rows must not need a definition.
    'CREATE DATABASE other',
    'CREATE TABLE other.t (id INT PRIMARY KEY, v VARCHAR(10))',
  ]);

  const sourceFile = join(dir, 'source.yaml');
  await writeFile(
    sourceFile,
    [
      'source-id: minimal-src',
      'from:',
      '  host: 127.0.0.1',
      `  port: ${upstream.port}`,
      '  user: root',
      `  password: "${ROOT_PASSWORD}"`,
      '',
    ].join('\n'),
  );
  dmq = await startDmq();
  const dumpDir = dmq.dumpDir;
  await cli(['operate-source', 'create', sourceFile]);
  const check = await runCli(dmq.addr, ['check-task', await writeTask({ name: TASK, mode: 'all', schema: 'mm', sourceId: SOURCE })]);
  assert.match(check.stdout, /binlog_row_metadata is MINIMAL: the binlog does not name columns/, 'a warning, not a failure');
  await cli(['start-task', await writeTask({ name: TASK, mode: 'all', schema: 'mm', sourceId: SOURCE })]);

  const writer = startRowWriter(source, { table: 'mm.items', rows: 20_000, insertFrom: 1_000_000, seed: 16 });
  try {
    await waitForStatus(dmq.addr, TASK, inSync, 180_000);
    await execSql(source, ["INSERT INTO other.t VALUES (1, 'x')", "UPDATE mm.items SET kind = 'c', big = 4294967295 WHERE id % 11 = 0"]);

    // The reader dies after reading the ADD COLUMN, while the target holds it (a transaction keeps
    // the table's metadata lock), so the checkpoint is before it: the new reader decodes the rows
    // before it with the old columns, and rows of the new shape come while it is away.
    const blocker = await mysql.createConnection(stack.target);
    try {
      await blocker.query('START TRANSACTION');
      await blocker.query('SELECT COUNT(*) FROM mm.items');
      await execSql(source, ["ALTER TABLE mm.items ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT 'x' AFTER k"]);
      const alterEnd = await masterPosition(source);
      await until('the ALTER waiting on the target', async () => {
        const [rows] = await blocker.query<mysql.RowDataPacket[]>(
          "SELECT id FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%extra%' AND ID <> CONNECTION_ID()",
        );
        return rows[0];
      });
      await dmq.kill();
      const [global] = await blocker.query<mysql.RowDataPacket[]>(
        'SELECT binlog_name, binlog_pos FROM dm_meta.minimal_syncer_checkpoint WHERE source_id = ? AND is_global = 1',
        [SOURCE],
      );
      const checkpoint = { file: String(global[0]!.binlog_name), pos: Number(global[0]!.binlog_pos) };
      assert.ok(compareCoords(checkpoint, alterEnd) < 0, `the reader resumes before the ALTER: ${JSON.stringify(checkpoint)}`);
    } finally {
      await blocker.end();
    }
    await execSql(source, ["UPDATE mm.items SET extra = CONCAT('e', id % 7) WHERE id % 5 = 0", "INSERT INTO other.t VALUES (2, 'y')"]);
    dmq = await startDmq({ dumpDir });
    await waitForCaughtUp(dmq.addr, TASK, [source], 120_000, { synced: false });

    await execSql(source, [
      'ALTER TABLE mm.items DROP COLUMN old_col',
      "UPDATE mm.items SET extra = 'after drop', price = price + 1 WHERE id % 13 = 0",
      'ALTER TABLE mm.items MODIFY c VARCHAR(60)',
    ]);
    await waitForCaughtUp(dmq.addr, TASK, [source], 120_000, { synced: false });
  } finally {
    const writes = await writer.stop();
    assert.ok(writes > 0, 'the writer wrote');
  }
  const status = await waitForCaughtUp(dmq.addr, TASK, [source], 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  await assertEqualRows();

  // binlog-schema list: the tracker followed both DDLs.
  const listed = await cli(['binlog-schema', 'list', TASK, '-s', SOURCE, 'mm', 'items']);
  const created = String(listed.schema_create_sql);
  assert.match(created, /`extra` varchar\(20\)/);
  assert.match(created, /`c` varchar\(60\)/);
  assert.doesNotMatch(created, /old_col/);
  assert.deepEqual((await cli(['binlog-schema', 'list', TASK, SOURCE])).names, ['mm']);
});

test('binlog-schema delete untracks a table: its next rows pause the task until binlog-schema update sets it', {
  timeout: 180_000,
}, async () => {
  const notPaused = await runCli(dmq!.addr, ['binlog-schema', 'delete', TASK, '-s', SOURCE, 'mm', 'items']);
  assert.notEqual(notPaused.code, 0);
  assert.match(notPaused.stdout, /changes a paused task only/);

  await cli(['pause-task', TASK]);
  await cli(['binlog-schema', 'delete', TASK, '-s', SOURCE, 'mm', 'items']);
  const gone = await runCli(dmq!.addr, ['binlog-schema', 'list', TASK, '-s', SOURCE, 'mm', 'items']);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stdout, /has no definition of `mm`.`items`/);
  await cli(['resume-task', TASK]);
  // An insert: an update of a row the writer deleted would log nothing.
  await execSql(source, ["INSERT INTO mm.items (id, k, c) VALUES (4000000, 1, 'untracked')"]);
  const paused = await waitForStatus(dmq!.addr, TASK, (s) => s.stage !== 'Running', 60_000);
  assert.equal(paused.stage, 'Paused', JSON.stringify(paused, null, 2));
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]! as unknown as {
    ErrCode: string;
    Message: string;
    Workaround?: string;
  };
  assert.equal(error.ErrCode, 'BINLOG_SCHEMA', error.Message);
  assert.match(error.Message, /carries no column names for `mm`.`items`.*the schema tracker has no definition of it/);

  // A definition that does not fit the binlog pauses it again; --from-source and a file fix it.
  const wrong = join(dir, 'wrong.sql');
  await writeFile(wrong, 'CREATE TABLE items (id INT PRIMARY KEY, k INT)');
  await cli(['binlog-schema', 'update', TASK, '-s', SOURCE, 'mm', 'items', wrong]);
  await cli(['resume-task', TASK]);
  const again = await waitForStatus(dmq!.addr, TASK, (s) => s.stage !== 'Running', 60_000);
  const mismatch = again.sources[0]!.subTaskStatus[0]!.result!.errors[0]! as unknown as { ErrCode: string; Message: string };
  assert.equal(mismatch.ErrCode, 'BINLOG_SCHEMA', mismatch.Message);
  assert.match(mismatch.Message, /the tracked definition 2 \(id, k\)/);

  const fromSource = await cli(['binlog-schema', 'update', TASK, SOURCE, 'mm', 'items', '--from-source']);
  assert.match(String(fromSource.valid_from), /^binlog\.\d+:\d+$/);
  const conn = await mysql.createConnection(source);
  let createTable: string;
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW CREATE TABLE mm.items');
    createTable = String(rows[0]!['Create Table']);
  } finally {
    await conn.end();
  }
  const file = join(dir, 'items.sql');
  await writeFile(file, createTable);
  await cli(['binlog-schema', 'update', TASK, '-s', SOURCE, 'mm', 'items', file]);
  await cli(['resume-task', TASK]);
  await execSql(source, [
    "UPDATE mm.items SET c = 'tracked again' WHERE id = 3",
    "INSERT INTO mm.items (id, k, c) VALUES (5000000, 1, 'new')",
  ]);
  const status = await waitForCaughtUp(dmq!.addr, TASK, [source], 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  await assertEqualRows();
});
