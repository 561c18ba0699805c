import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, taskStatus, waitForCaughtUp, waitForStatus, type DmqServer, inSync } from '../support/dmq.js';
import { checksumQuery, tableSide } from '../../src/processors/diff/diff-sql.js';
import { describeTable, type ColumnInfo } from '../../src/shared/sql/catalog.js';
import type { Endpoint } from '../harness/servers.js';
import { ALL_TYPES_TABLE, allTypesRows, execSql, exampleFiles, seedTestTables, writeTask } from '../support/fixtures.js';
import { startWriter } from '../support/writer.js';

/**
 * Columns whose values TiDB may print differently from MariaDB (floats; JSON unless the source
 * wrote it in TiDB's normal form): the diff settles their chunks row by row.
 */
const TIDB_PRINTS_OWN_WAY = new Set(['f', 'd', 'j']);

let dmq: DmqServer | undefined;
let dir = '';

before(async () => {
  await resetDatabases();
  dir = await mkdtemp(join(tmpdir(), 'dmq-diff-'));
});

after(async () => {
  await dmq?.stop();
});

interface DiffDone {
  event: 'done';
  state: string;
  clean: boolean;
  fixFile: string | null;
  tables: {
    table: string;
    outcome: string;
    rows: number;
    notes: string[];
    differences: { kind: string; key: Record<string, string | null>; count: number }[];
  }[];
}

/** `dmq diff` piped, as a script runs it: JSON lines, the last one the whole report. */
async function diff(task: string, fixFile: string): Promise<{ code: number; done: DiffDone; lines: { event: string }[] }> {
  const out = await runCli(dmq!.addr, ['diff', task, '--fix-sql', fixFile]);
  const lines = out.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { event: string });
  const done = lines.at(-1) as unknown as DiffDone;
  assert.equal(done?.event, 'done', `${out.stdout}\n${out.stderr}`);
  return { code: out.code, done, lines };
}

/** Starts a task of the first upstream and waits until it replicates everything written so far. */
async function startSynced(name: string, taskFile: string): Promise<void> {
  const started = await runCli(dmq!.addr, ['start-task', taskFile]);
  assert.equal(started.code, 0, started.stdout);
  await waitForStatus(dmq!.addr, name, inSync, 180_000);
  await waitForCaughtUp(dmq!.addr, name, [(await getStack()).upstreams[0]], 120_000);
}

const keysOf = (done: DiffDone) =>
  done.tables.flatMap((t) => t.differences.map((d) => `${t.table} ${d.kind} ${JSON.stringify(d.key)}`)).sort();

test('the seed task (two shards merged): diff is clean, then names exactly a changed, a deleted and an inserted target row; its fix SQL makes the next diff clean; under steady writes it reports nothing', {
  timeout: 420_000,
}, async () => {
  const stack = await getStack();
  await seedTestTables(5_000);
  const files = await exampleFiles();
  dmq = await startDmq();
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const started = await runCli(dmq.addr, ['start-task', files.task]);
  assert.equal(started.code, 0, started.stdout);
  await waitForStatus(dmq.addr, 'test', inSync, 180_000);
  await waitForCaughtUp(dmq.addr, 'test', stack.upstreams, 120_000);

  const fixFile = join(dir, 'fix.sql');
  const clean = await diff('test', fixFile);
  assert.equal(clean.code, 0, JSON.stringify(clean.done, null, 2));
  assert.equal(clean.done.clean, true);
  assert.deepEqual(
    clean.done.tables.map((t) => [t.table, t.outcome, t.rows]),
    [['`test_db`.`test_table`', 'equal', 10_000]],
  );
  assert.ok(clean.lines.some((l) => l.event === 'progress'));

  // Even ids came from the first shard, odd ones from the second.
  await execSql(stack.target, [
    "UPDATE test_db.test_table SET c = 'corrupted' WHERE id = 10",
    'DELETE FROM test_db.test_table WHERE id = 21',
    "INSERT INTO test_db.test_table (id, k, c) VALUES (1000001, 1, 'stray')",
  ]);
  const found = await diff('test', fixFile);
  assert.equal(found.code, 1);
  assert.equal(found.done.clean, false);
  assert.deepEqual(keysOf(found.done), [
    '`test_db`.`test_table` changed {"id":"10"}',
    '`test_db`.`test_table` extra {"id":"1000001"}',
    '`test_db`.`test_table` missing {"id":"21"}',
  ]);
  assert.equal(found.done.fixFile, fixFile);

  // The report is in query-status and /metrics too.
  const status = (await taskStatus(dmq.addr, 'test')) as unknown as { diff: { state: string; differentRows: number } };
  assert.equal(status.diff.state, 'done');
  assert.equal(status.diff.differentRows, 3);
  const metrics = await (await fetch(`http://${dmq.addr}/metrics`)).text();
  assert.match(metrics, /dmq_diff_different_rows\{task="test"\} 3/);

  const fix = await readFile(fixFile, 'utf8');
  const conn = await mysql.createConnection({ ...stack.target, multipleStatements: true });
  try {
    await conn.query(fix);
  } finally {
    await conn.end();
  }
  const fixed = await diff('test', fixFile);
  assert.equal(fixed.code, 0, JSON.stringify(fixed.done, null, 2));
  assert.deepEqual(keysOf(fixed.done), []);

  // Replication runs under steady writes to both shards: what is in flight is not a difference.
  const writers = stack.upstreams.map((server, i) => startWriter(server, { parity: i as 0 | 1, seed: 31 + i, perSecond: 40 }));
  try {
    const until = Date.now() + 40_000;
    let runs = 0;
    while (Date.now() < until || runs < 2) {
      const busy = await diff('test', fixFile);
      assert.equal(busy.code, 0, JSON.stringify(busy.done, null, 2));
      runs += 1;
    }
  } finally {
    const counts = await Promise.all(writers.map((w) => w.stop()));
    assert.ok(
      counts.every((n) => n > 20),
      `writers ran: ${counts.join(', ')} transactions`,
    );
  }
});

test('bad input is one line each, never a crash: a table without a key, a target table of another type, a target table dropped', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE diff_db',
    'CREATE TABLE diff_db.nokey (a INT, b VARCHAR(20), f DOUBLE)',
    "INSERT INTO diff_db.nokey VALUES (1, 'x', 0.1), (1, 'x', 0.1), (2, NULL, 1e300), (3, 'z', NULL)",
    'CREATE TABLE diff_db.typed (id INT PRIMARY KEY, v INT)',
    'INSERT INTO diff_db.typed VALUES (1, 1), (2, 2)',
    'CREATE TABLE diff_db.gone (id INT PRIMARY KEY)',
    'INSERT INTO diff_db.gone VALUES (1)',
  ]);
  const taskFile = await writeTask({ name: 'bad-input', mode: 'all', schema: 'diff_db' });
  await startSynced('bad-input', taskFile);
  const fixFile = join(dir, 'bad-input.sql');
  const first = await diff('bad-input', fixFile);
  assert.equal(first.code, 0, JSON.stringify(first.done, null, 2));

  await execSql(stack.target, [
    'ALTER TABLE diff_db.typed MODIFY v VARBINARY(10)',
    'DROP TABLE diff_db.gone',
    "DELETE FROM diff_db.nokey WHERE a = 1 AND b = 'x' LIMIT 1",
  ]);
  const { code, done } = await diff('bad-input', fixFile);
  assert.equal(code, 1);
  const byTable = new Map(done.tables.map((t) => [t.table, t]));
  const nokey = byTable.get('`diff_db`.`nokey`')!;
  assert.ok(nokey, JSON.stringify(done.tables, null, 2));
  assert.equal(nokey.outcome, 'different');
  assert.match(nokey.notes.join('\n'), /no primary key .* full-row checksums/);
  assert.deepEqual(
    nokey.differences.map((d) => [d.kind, d.key.a, d.key.b, d.count]),
    [['missing', '1', 'x', 1]],
  );
  const typed = byTable.get('`diff_db`.`typed`')!;
  assert.equal(typed.outcome, 'mismatch');
  assert.match(
    typed.notes.join('\n'),
    /column `v` is int.* on source mysql-replica-01 `diff_db`.`typed` but varbinary\(10\) on the target/,
  );
  const gone = byTable.get('`diff_db`.`gone`')!;
  assert.ok(gone, JSON.stringify(done.tables, null, 2));
  assert.equal(gone.outcome, 'missing');
  assert.match(gone.notes.join('\n'), /target table `diff_db`.`gone` does not exist/);
});

test('shards routed into one table with extract-table columns in its key compare as their union; a row missing from one shard is found', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE diff_shards',
    'CREATE TABLE diff_shards.t_1 (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE diff_shards.t_2 (id INT PRIMARY KEY, v VARCHAR(20))',
    // The shards use the same ids: the extracted column tells their rows apart.
    "INSERT INTO diff_shards.t_1 SELECT seq, CONCAT('one ', seq) FROM diff_shards.seq_1_to_300",
    "INSERT INTO diff_shards.t_2 SELECT seq, CONCAT('two ', seq) FROM diff_shards.seq_1_to_300",
  ]);
  await execSql(stack.target, [
    'CREATE DATABASE diff_merged',
    'CREATE TABLE diff_merged.t (id INT NOT NULL, v VARCHAR(20), c_table VARCHAR(10) NOT NULL, PRIMARY KEY (c_table, id))',
  ]);
  const taskFile = await writeTask({
    name: 'diff-shards',
    mode: 'all',
    schema: 'diff_shards',
    instance: ['route-rules: [shards]', 'mydumper: { rows: 100 }'],
    extra: [
      'routes:',
      '  shards:',
      '    schema-pattern: diff_shards',
      '    table-pattern: "t_*"',
      '    target-schema: diff_merged',
      '    target-table: t',
      '    extract-table: { table-regexp: "t_(.*)", target-column: c_table }',
    ].join('\n'),
  });
  await startSynced('diff-shards', taskFile);
  const fixFile = join(dir, 'diff-shards.sql');
  const clean = await diff('diff-shards', fixFile);
  assert.equal(clean.code, 0, JSON.stringify(clean.done, null, 2));
  assert.deepEqual(
    clean.done.tables.map((t) => [t.table, t.outcome, t.rows]),
    [['`diff_merged`.`t`', 'equal', 600]],
  );

  await execSql(stack.target, ["DELETE FROM diff_merged.t WHERE c_table = '2' AND id = 5"]);
  const found = await diff('diff-shards', fixFile);
  assert.equal(found.code, 1);
  assert.deepEqual(keysOf(found.done), ['`diff_merged`.`t` missing {"c_table":"2","id":"5"}']);
  const fix = await readFile(fixFile, 'utf8');
  assert.match(fix, /REPLACE INTO `diff_merged`.`t` \(`id`, `v`, `c_table`\) VALUES \(5, 'two 5', '2'\);/);
});

test('every type: the chunk checksums of source and target agree except where a server prints a value its own way, and the diff is clean', {
  timeout: 300_000,
}, async () => {
  const stack = await getStack();
  const rename = (sql: string) => sql.replaceAll('test_db.test_table', 'diff_types.t');
  await execSql(stack.upstreams[0], [
    "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    'CREATE DATABASE diff_types',
    rename(ALL_TYPES_TABLE),
    ...allTypesRows(0).map(rename),
  ]);
  const taskFile = await writeTask({ name: 'diff-types', mode: 'all', schema: 'diff_types' });
  await startSynced('diff-types', taskFile);
  const { code, done } = await diff('diff-types', join(dir, 'diff-types.sql'));
  assert.equal(code, 0, JSON.stringify(done, null, 2));
  assert.deepEqual(
    done.tables.map((t) => [t.table, t.outcome, t.rows]),
    [['`diff_types`.`t`', 'equal', 4]],
  );

  // Column by column, the checksum dmq takes of a chunk, on each server.
  const columnsOf = async (server: Endpoint) => {
    const conn = await mysql.createConnection(server);
    try {
      const info = await describeTable(conn, { schema: 'diff_types', table: 't' });
      return info.columns;
    } finally {
      await conn.end();
    }
  };
  const checksums = async (server: Endpoint, columns: ColumnInfo[]) => {
    const conn = await mysql.createConnection({ ...server, supportBigNumbers: true, bigNumberStrings: true });
    try {
      await conn.query("SET time_zone = '+00:00'");
      const sums: string[] = [];
      for (const c of columns) {
        const query = checksumQuery(tableSide('diff_types', 't'), [c], []);
        const [rows] = await conn.query<mysql.RowDataPacket[]>(query.sql, query.params);
        sums.push(`${rows[0]!.n}/${rows[0]!.s}`);
      }
      return sums;
    } finally {
      await conn.end();
    }
  };
  const targetColumns = await columnsOf(stack.target);
  const [source, target] = [await checksums(stack.upstreams[0], targetColumns), await checksums(stack.target, targetColumns)];
  const disagree = targetColumns.filter((_, i) => source[i] !== target[i]).map((c) => c.name);
  assert.deepEqual(
    disagree.filter((c) => stack.targetKind !== 'tidb' || !TIDB_PRINTS_OWN_WAY.has(c)),
    [],
  );
});
