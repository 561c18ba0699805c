import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { targetKindFromEnv } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus, inSync } from '../support/dmq.js';
import { execSql, exampleFiles } from '../support/fixtures.js';

/**
 * DM's files and habits, as DM's own integration tests (dm/tests/all_mode and others) use them:
 * a source.yaml with `flavor: ''`, a task full of Go zero values and a filter rule DM drops, a
 * task timezone that target-only `DEFAULT CURRENT_TIMESTAMP` columns are filled in, DM's words
 * for an inconsistent shard DDL, and TiDB-only session variables caught at precheck.
 */

const server = dmqForFile({ registerSources: 2 });

async function fileOf(name: string, lines: string[]): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'dmq-dm-compat-')), name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

interface CheckItem {
  name: string;
  state: string;
  errors: { shortErr: string }[];
  instruction?: string;
}

const checkItems = (json: Record<string, unknown>) => json.checkResult as CheckItem[];

test("a DM all_mode-style task: flavor '', zero values, a rule DM drops, timezone +04:00; TIMESTAMPs exact and target-only defaults in the task's zone", {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  const source = await fileOf('source1.yaml', [
    'source-id: dm-style',
    "flavor: ''",
    'server-id: 0',
    'enable-gtid: false',
    'enable-relay: false',
    'auto-fix-gtid: false',
    'relay-dir: ./relay_log',
    'from:',
    '  host: 127.0.0.1',
    `  port: ${stack.upstreams[0].port}`,
    `  user: ${stack.upstreams[0].user}`,
    `  password: "${stack.upstreams[0].password}"`,
  ]);
  const created = await runCli(server().addr, ['operate-source', 'create', source]);
  assert.equal(created.code, 0, created.stdout + created.stderr);

  // Written in other session zones than the task's, as all_mode's increment does.
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE tzmode',
    'CREATE TABLE tzmode.t (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL, dt DATETIME(3) NULL, note VARCHAR(20))',
    "SET time_zone = '+07:00'",
    "INSERT INTO tzmode.t VALUES (1, '2024-03-10 01:30:00.125', '2024-03-10 01:30:00.125', 'copy +07'), (2, '1970-01-01 07:00:01', NULL, 'epoch+1'), (3, NULL, NULL, 'null')",
    "SET time_zone = '-03:30'",
    "INSERT INTO tzmode.t VALUES (4, '2038-01-18 23:44:07.999', '2038-01-18 23:44:07.999', 'copy -03:30')",
    'CREATE TABLE tzmode.no_diff (id INT PRIMARY KEY)',
    'INSERT INTO tzmode.no_diff VALUES (1), (2), (3)',
    'CREATE TABLE tzmode.gone (id INT PRIMARY KEY, v INT)',
    'INSERT INTO tzmode.gone SELECT seq, seq * 7 FROM tzmode.seq_1_to_500',
  ]);
  // The target's table has two columns the source lacks, filled by their defaults.
  await execSql(stack.target, [
    'CREATE DATABASE tzmode',
    'CREATE TABLE tzmode.no_diff (id INT NOT NULL PRIMARY KEY, dt DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)',
  ]);

  const task = await fileOf('dm-task.yaml', [
    '---',
    'name: tzmode',
    'task-mode: all',
    'is-sharding: false',
    'meta-schema: "dm_meta"',
    'timezone: "+04:00"',
    'enable-heartbeat: false',
    'heartbeat-update-interval: 1',
    'target-database:',
    '  host: "127.0.0.1"',
    `  port: ${stack.target.port}`,
    '  user: "root"',
    '  password: ""',
    '  max-allowed-packet: null',
    '  security: null',
    'mysql-instances:',
    '  - source-id: "dm-style"',
    '    meta: null',
    '    black-white-list: ""',
    '    block-allow-list: "instance"',
    '    filter-rules: ["user-filter-1"]',
    '    expression-filters: []',
    '    mydumper-config-name: "global"',
    '    loader-config-name: "global"',
    '    syncer-config-name: "global"',
    '    mydumper-thread: 0',
    '    loader-thread: 0',
    '    syncer-thread: 0',
    'block-allow-list:',
    '  instance:',
    '    do-dbs: ["tzmode"]',
    'filters:',
    '  user-filter-1:',
    '    schema-pattern: "*"',
    '    table-pattern: "*"',
    '    events: ["truncate table", "drop table", "truncate"]',
    '    action: Ignore',
    'mydumpers:',
    '  global:',
    '    threads: 4',
    '    chunk-filesize: 0',
    '    skip-tz-utc: true',
    '    extra-args: ""',
    'loaders:',
    '  global:',
    '    pool-size: 16',
    '    on-duplicate: ""',
    'syncers:',
    '  global:',
    '    worker-count: 16',
    '    batch: 100',
    '    safe-mode-duration: 0',
  ]);

  const check = await runCli(server().addr, ['check-task', task]);
  assert.equal(check.code, 0, check.stdout);
  const notices = checkItems(check.json).find((c) => c.name === 'config_notices')!;
  assert.equal(notices.state, 'warn');
  const said = notices.errors.map((e) => e.shortErr).join('\n');
  assert.match(said, /filters\.user-filter-1\.events\[2\]: unknown event "truncate": DM ignores the whole rule "user-filter-1"/);
  assert.match(said, /heartbeat-update-interval: accepted, not acted on/);
  assert.match(said, /source dm-style: relay-dir: accepted, not acted on/);

  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  await waitForStatus(server().addr, 'tzmode', (s) => s.stage !== 'Running' || s.sources[0]!.subTaskStatus[0]!.unit === 'Sync', 120_000);

  await execSql(stack.upstreams[0], [
    "SET time_zone = '+07:00'",
    "INSERT INTO tzmode.t VALUES (5, '2024-10-27 02:30:00', '2024-10-27 02:30:00', 'sync +07')",
    "UPDATE tzmode.t SET ts = '2000-02-29 23:59:59.5', note = 'updated' WHERE id = 1",
    'INSERT INTO tzmode.no_diff VALUES (4), (5)',
    "SET time_zone = '+00:00'",
    "INSERT INTO tzmode.t VALUES (6, '1999-12-31 23:59:59.999', '1999-12-31 23:59:59.999', 'sync utc')",
    // The rule that would have ignored this was dropped, so it reaches the target.
    'TRUNCATE TABLE tzmode.gone',
    'INSERT INTO tzmode.gone VALUES (1, 1), (2, 2)',
  ]);
  const status = await waitForCaughtUp(server().addr, 'tzmode', [stack.upstreams[0]], 120_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));

  for (const table of ['t', 'gone']) {
    const { expected, actual } = await compareMerged([{ server: stack.upstreams[0], schema: 'tzmode', table }], {
      server: stack.target,
      schema: 'tzmode',
      table,
    });
    assert.deepEqual(actual, expected, `tzmode.${table}`);
  }
  assert.equal((await queryRows(stack.target, 'SELECT COUNT(*) FROM tzmode.gone'))[0], '["2"]');
  // DM's own check: both defaults were taken in the task's zone, so the DATETIME reads the
  // same wall clock as the TIMESTAMP shown in +04:00.
  assert.deepEqual(await queryRows(stack.target, 'SELECT id FROM tzmode.no_diff'), ['["1"]', '["2"]', '["3"]', '["4"]', '["5"]']);
  const conn = await mysql.createConnection(stack.target);
  try {
    await conn.query("SET time_zone = '+04:00'");
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM tzmode.no_diff WHERE dt = ts');
    assert.equal(Number(rows[0]!.n), 5);
  } finally {
    await conn.end();
  }
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'tzmode'])).code, 0);
});

test("an inconsistent shard DDL sequence pauses the task in DM's words, beside dmq's explanation and way out", {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  const files = await exampleFiles({ extraTaskYaml: 'shard-mode: "pessimistic"' });
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE test_db',
      'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB)',
      `INSERT INTO test_db.test_table SELECT seq * 2 + ${i}, seq, 'row', NULL FROM test_db.seq_0_to_99`,
    ]);
  }
  assert.equal((await runCli(server().addr, ['start-task', files.task])).code, 0);
  await waitForStatus(server().addr, 'test', inSync, 120_000);
  await execSql(stack.upstreams[0], ['ALTER TABLE test_db.test_table ADD COLUMN a INT']);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await execSql(stack.upstreams[1], ['ALTER TABLE test_db.test_table ADD COLUMN z INT']);
  const paused = await waitForStatus(server().addr, 'test', (s) => s.stage === 'Paused', 60_000);
  const error = paused.sources.flatMap((s) => s.subTaskStatus[0]!.result?.errors ?? [])[0]!;
  assert.equal(error.ErrCode, 'SHARD_DDL_CONFLICT');
  assert.match(
    error.Message,
    /^detect inconsistent DDL sequence \[code=36008\]: shard mysql-replica-02:`test_db`\.`test_table` runs `ALTER TABLE/,
  );
  assert.match(error.Message, /where another shard ran `ALTER TABLE `test_db`\.`test_table` ADD COLUMN `a` INT/);
  assert.match(error.Workaround, /run the same DDL on every shard/);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'test'])).code, 0);
});

test('target-database.session: a variable the target lacks fails the precheck, naming it, instead of pausing the running task', async () => {
  const stack = await getStack();
  const task = await fileOf('sess.yaml', [
    'name: sess',
    'task-mode: all',
    'target-database:',
    '  host: 127.0.0.1',
    `  port: ${stack.target.port}`,
    '  user: root',
    '  password: ""',
    '  session:',
    '    tidb_skip_utf8_check: 1',
    '    sql_mode: STRICT_TRANS_TABLES',
    'mysql-instances:',
    '  - source-id: mysql-replica-01',
    '    block-allow-list: only',
    'block-allow-list:',
    '  only: { do-dbs: ["sess"] }',
  ]);
  await execSql(stack.upstreams[0], ['CREATE DATABASE sess', 'CREATE TABLE sess.t (id INT PRIMARY KEY)']);
  const check = await runCli(server().addr, ['check-task', task]);
  const item = checkItems(check.json).find((c) => c.name === 'target_session')!;
  if (targetKindFromEnv() === 'tidb') {
    assert.equal(item.state, 'success', check.stdout);
    return;
  }
  assert.equal(item.state, 'fail', check.stdout);
  assert.equal(item.errors.length, 1, 'sql_mode exists everywhere');
  assert.match(
    item.errors[0]!.shortErr,
    /^target-database\.session\.tidb_skip_utf8_check: mariadb .* has no such variable \(it exists only on TiDB\)/,
  );
  assert.match(item.instruction ?? '', /remove tidb_skip_utf8_check from target-database\.session, or point the task at a TiDB target/);
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const paused = await waitForStatus(server().addr, 'sess', (s) => s.stage !== 'Running', 60_000);
  assert.equal(paused.stage, 'Paused');
  const sub = paused.sources[0]!.subTaskStatus[0]!;
  assert.equal(sub.unit, 'Check', 'stopped by its precheck, before any row moved');
  const message = sub.result!.errors.map((e) => e.Message).join('\n');
  assert.match(message, /^fail to check synchronization configuration with type \[code=26005\]: /);
  assert.match(message, /tidb_skip_utf8_check/);
  const stopped = await runCli(server().addr, ['stop-task', '--remove-meta', 'sess']);
  assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
});
