import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getStack } from '../harness/stack.js';
import { compareMerged } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus, type TaskStatus, inSync } from '../support/dmq.js';
import { execSql, exampleFiles, itemsTable, writeTask } from '../support/fixtures.js';
import { columnsOf, indexesOf, tablesOf } from '../support/schema.js';
import { startRowWriter } from '../support/writer.js';

const dmq = dmqForFile({ registerSources: 2 });

const synced = (s: TaskStatus) =>
  s.sources.every((src) => {
    const sub = src.subTaskStatus[0]!;
    return sub.unit === 'Sync' && sub.sync?.synced === true;
  });

const errorOf = (s: TaskStatus) => s.sources.flatMap((src) => src.subTaskStatus[0]!.result?.errors ?? [])[0];

async function assertSameTable(
  schema: string,
  table: string,
  target: { schema: string; table: string } = { schema, table },
): Promise<void> {
  const stack = await getStack();
  assert.deepEqual(
    await columnsOf(stack.target, target.schema, target.table),
    await columnsOf(stack.upstreams[0], schema, table),
    `columns of ${schema}.${table}`,
  );
  const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema, table }], { server: stack.target, ...target });
  assert.equal(actual.length, expected.length, `rows of ${schema}.${table}`);
  assert.deepEqual(actual, expected, `rows of ${schema}.${table}`);
}

test('schema changes replicate in order with the rows around them: ALTERs, indexes, a new table, rename, truncate, drop; non-data DDL is skipped', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  const db = 'ddl_db';
  await execSql(stack.upstreams[0], [
    ...itemsTable(db, 3000),
    `CREATE TABLE ${db}.keep (id INT PRIMARY KEY, v VARCHAR(20))`,
    `INSERT INTO ${db}.keep SELECT seq, CONCAT('keep ', seq) FROM ${db}.seq_1_to_100`,
  ]);
  const taskFile = await writeTask({ name: 'ddl', mode: 'all', schema: db });
  const addr = dmq().addr;
  const writer = startRowWriter(stack.upstreams[0], { table: `${db}.items`, rows: 3000, insertFrom: 100_000, seed: 5 });
  try {
    assert.equal((await runCli(addr, ['start-task', taskFile])).code, 0);
    await waitForStatus(addr, 'ddl', inSync, 120_000);
    await execSql(stack.upstreams[0], [
      // Columns: rows after each change carry the new shape, rows before it the old one.
      `ALTER TABLE ${db}.items ADD COLUMN note VARCHAR(30) DEFAULT 'none', ADD COLUMN qty INT NOT NULL DEFAULT 7`,
      `UPDATE ${db}.items SET note = CONCAT('n', id), qty = id % 13 WHERE id % 4 = 0`,
      `ALTER TABLE ${db}.items MODIFY COLUMN c VARCHAR(80)`,
      `UPDATE ${db}.items SET c = REPEAT('w', 70) WHERE id % 9 = 0`,
      `ALTER TABLE ${db}.items CHANGE COLUMN qty amount BIGINT NOT NULL DEFAULT 7`,
      `ALTER TABLE ${db}.items DROP COLUMN note`,
      `ALTER TABLE ${db}.items ADD INDEX by_k (k)`,
      `CREATE INDEX by_amount ON ${db}.items (amount)`,
      `DROP INDEX by_k ON ${db}.items`,
      `ALTER TABLE ${db}.items MODIFY COLUMN amount BIGINT NOT NULL DEFAULT 9`,
      `ALTER TABLE ${db}.items ALTER COLUMN amount SET DEFAULT 11, ALTER COLUMN c DROP DEFAULT`,
      // A table created mid-stream replicates without a restart.
      `CREATE TABLE ${db}.fresh (id INT PRIMARY KEY AUTO_INCREMENT, label VARCHAR(20) NOT NULL, UNIQUE KEY ul (label))`,
      `INSERT INTO ${db}.fresh (label) VALUES ('a'), ('b'), ('c')`,
      `RENAME TABLE ${db}.fresh TO ${db}.renamed`,
      `INSERT INTO ${db}.renamed (label) VALUES ('after rename')`,
      `TRUNCATE TABLE ${db}.keep`,
      `INSERT INTO ${db}.keep VALUES (1, 'after truncate')`,
      `CREATE TABLE ${db}.gone (id INT PRIMARY KEY)`,
      `INSERT INTO ${db}.gone VALUES (1)`,
      `DROP TABLE ${db}.gone`,
      // Not about data: skipped with a log record.
      `CREATE VIEW ${db}.v AS SELECT id FROM ${db}.keep`,
      `CREATE TRIGGER ${db}.tr BEFORE INSERT ON ${db}.keep FOR EACH ROW SET NEW.v = UPPER(NEW.v)`,
      `INSERT INTO ${db}.keep VALUES (2, 'after trigger')`,
      // An XA transaction: its rows come between XA START and XA PREPARE.
      "XA START 'dmq-xa'",
      `INSERT INTO ${db}.keep VALUES (3, 'in xa')`,
      "XA END 'dmq-xa'",
      "XA PREPARE 'dmq-xa'",
      "XA COMMIT 'dmq-xa'",
      'ANALYZE TABLE ddl_db.items',
    ]);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    assert.ok((await writer.stop()) > 50);
  }
  const status = await waitForCaughtUp(addr, 'ddl', [stack.upstreams[0]], 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));
  assert.deepEqual(await tablesOf(stack.target, db), ['items', 'keep', 'renamed']);

  // query-status --more: every check, and where each table's stream stands.
  const more = await runCli(addr, ['query-status', '--more', 'ddl']);
  assert.equal(more.code, 0, more.stdout);
  const detail = JSON.parse(more.stdout) as {
    precheck: { results: { state: string }[] };
    sources: { subTaskStatus: { tables: { table: string; target: string; syncerBinlog: string }[] }[] }[];
  };
  assert.ok(
    detail.precheck.results.some((r) => r.state === 'success'),
    'every precheck item, not only the notable ones',
  );
  const streams = detail.sources[0]!.subTaskStatus[0]!.tables;
  for (const table of ['items', 'keep', 'renamed', 'fresh', 'gone']) {
    const stream = streams.find((t) => t.table === `\`${db}\`.\`${table}\``);
    assert.ok(stream, `${table} in ${JSON.stringify(streams)}`);
    assert.equal(stream.target, stream.table);
    assert.match(stream.syncerBinlog, /^binlog\.\d+:\d+/);
  }

  // Every log line is JSON; DDL records name the task, source, position and statement.
  const lines = dmq()
    .output()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const ddlLines = lines.filter((l) => l.task === 'ddl' && typeof l.msg === 'string' && l.msg.includes('DDL'));
  for (const msg of ['DDL read', 'DDL applied', 'DDL skipped: not about data'])
    assert.ok(
      ddlLines.some((l) => l.msg === msg),
      `a "${msg}" record`,
    );
  for (const l of ddlLines) {
    assert.equal(l.source, 'mysql-replica-01', JSON.stringify(l));
    assert.equal(typeof l.at, 'string', JSON.stringify(l));
    if (l.msg === 'DDL applied') assert.match(String(l.table), /^`ddl_db`\./, JSON.stringify(l));
  }
  assert.deepEqual(await indexesOf(stack.target, db, 'items'), await indexesOf(stack.upstreams[0], db, 'items'));
  for (const table of ['items', 'keep', 'renamed']) await assertSameTable(db, table);
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'ddl'])).code, 0);
});

test('a DDL dmq cannot read pauses the task at its position; binlog skip goes on. A DDL the target rejects pauses it too; binlog replace goes on', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  const db = 'ddl_stop';
  await execSql(stack.upstreams[0], itemsTable(db, 500));
  const taskFile = await writeTask({ name: 'ddlstop', mode: 'all', schema: db });
  const addr = dmq().addr;
  assert.equal((await runCli(addr, ['start-task', taskFile])).code, 0);
  await waitForStatus(addr, 'ddlstop', (s) => s.stage !== 'Running' || synced(s), 120_000);

  await execSql(stack.upstreams[0], [
    `UPDATE ${db}.items SET c = 'before' WHERE id <= 10`,
    `ALTER TABLE ${db}.items PARTITION BY HASH(id) PARTITIONS 2`,
    `UPDATE ${db}.items SET c = 'after' WHERE id <= 20`,
  ]);
  const paused = await waitForStatus(addr, 'ddlstop', (s) => s.stage === 'Paused', 60_000);
  const error = errorOf(paused)!;
  assert.equal(error.ErrCode, 'DDL_UNSUPPORTED');
  assert.match(error.Message, /PARTITION BY HASH/);
  const position = error.ErrScope;
  assert.match(position, /^.+:\d+$/);
  assert.match(error.Workaround, /binlog skip ddlstop -b/);
  // The rows before it are applied, the ones after it are not.
  const before = await compareMerged([{ server: stack.upstreams[0], schema: db, table: 'items' }], {
    server: stack.target,
    schema: db,
    table: 'items',
  });
  assert.notDeepEqual(before.actual, before.expected);

  const skipped = await runCli(addr, ['binlog', 'skip', 'ddlstop', '-b', position]);
  assert.equal(skipped.code, 0, skipped.stdout);
  assert.equal((await waitForCaughtUp(addr, 'ddlstop', [stack.upstreams[0]])).stage, 'Running');
  await assertSameTable(db, 'items');

  // The target already has an index of that name on other columns: it rejects the DDL.
  await execSql(stack.target, [`CREATE INDEX by_c ON ${db}.items (k)`]);
  await execSql(stack.upstreams[0], [`CREATE INDEX by_c ON ${db}.items (c)`, `UPDATE ${db}.items SET c = 'after index' WHERE id <= 30`]);
  const rejected = errorOf(await waitForStatus(addr, 'ddlstop', (s) => s.stage === 'Paused', 60_000))!;
  assert.equal(rejected.ErrCode, 'DDL_REJECTED');
  assert.match(rejected.Message, /Duplicate key name/);
  const at = rejected.ErrScope;
  assert.match(at, /^.+:\d+$/);
  const replaced = await runCli(addr, [
    'binlog',
    'replace',
    'ddlstop',
    '-b',
    at,
    `DROP INDEX by_c ON ${db}.items`,
    `CREATE INDEX by_c ON ${db}.items (c)`,
  ]);
  assert.equal(replaced.code, 0, replaced.stdout);
  assert.equal((await waitForCaughtUp(addr, 'ddlstop', [stack.upstreams[0]])).stage, 'Running');
  assert.deepEqual(await indexesOf(stack.target, db, 'items'), await indexesOf(stack.upstreams[0], db, 'items'));
  await assertSameTable(db, 'items');
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'ddlstop'])).code, 0);
});

test("the seed task as written (no shard-mode): the second shard's ADD COLUMN is rejected with a hint to skip it and set shard-mode; binlog skip goes on", {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE test_db',
      'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, v VARCHAR(20))',
      `INSERT INTO test_db.test_table SELECT seq * 2 + ${i}, CONCAT('row ', seq) FROM test_db.seq_1_to_500`,
    ]);
  }
  const files = await exampleFiles();
  const addr = dmq().addr;
  assert.equal((await runCli(addr, ['start-task', files.task])).code, 0);
  await waitForCaughtUp(addr, 'test', stack.upstreams, 120_000);
  const alter = "ALTER TABLE test_db.test_table ADD COLUMN tag VARCHAR(10) NOT NULL DEFAULT 't'";
  await execSql(stack.upstreams[0], [alter, "INSERT INTO test_db.test_table VALUES (10000, 'one', 'a')"]);
  await waitForCaughtUp(addr, 'test', [stack.upstreams[0], stack.upstreams[1]]);
  await execSql(stack.upstreams[1], [alter, "INSERT INTO test_db.test_table VALUES (10001, 'two', 'b')"]);
  const error = errorOf(await waitForStatus(addr, 'test', (s) => s.stage === 'Paused', 60_000))!;
  assert.equal(error.ErrCode, 'DDL_REJECTED');
  assert.match(error.Message, /Duplicate column name 'tag'/);
  assert.match(error.Workaround, /2 shards merge into `test_db`.`test_table` and the task has no shard-mode/);
  assert.match(error.Workaround, /shard-mode: pessimistic/);
  assert.equal((await runCli(addr, ['binlog', 'skip', 'test', '-b', error.ErrScope, '-s', 'mysql-replica-02'])).code, 0);
  assert.equal((await waitForCaughtUp(addr, 'test', stack.upstreams)).stage, 'Running');
  const { expected, actual } = await compareMerged(
    stack.upstreams.map((server) => ({ server, schema: 'test_db', table: 'test_table' })),
    { server: stack.target, schema: 'test_db', table: 'test_table' },
  );
  assert.deepEqual(actual, expected);
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'test'])).code, 0);
});
