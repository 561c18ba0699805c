import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { beforeEach, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import { dmqForFile, runCli, waitForStatus } from '../support/dmq.js';
import { execSql, exampleFiles } from '../support/fixtures.js';
import { userSchemas } from '../support/schema.js';

const server = dmqForFile();

beforeEach(async () => {
  // Each case starts from no tasks and no sources.
  for (const name of ['test', 'bad']) await runCli(server().addr, ['stop-task', '--remove-meta', name]);
  for (const id of ['mysql-replica-01', 'mysql-replica-02']) await runCli(server().addr, ['operate-source', 'stop', id]);
  const stack = await getStack();
  for (const upstream of stack.upstreams) {
    await execSql(upstream, [
      'CREATE DATABASE IF NOT EXISTS test_db',
      'CREATE TABLE IF NOT EXISTS test_db.test_table (id INT PRIMARY KEY, v TEXT)',
      'REPLACE INTO test_db.test_table VALUES (1, "a")',
    ]);
  }
});

async function noTasks(): Promise<void> {
  const list = await runCli(server().addr, ['query-status']);
  assert.deepEqual(list.json.tasks, []);
}

test('malformed YAML is rejected with its line, and no task is created', async () => {
  const files = await exampleFiles({ taskMode: 'full' });
  await writeFile(files.task, (await readFile(files.task, 'utf8')).replace('task-mode: "full"', 'task-mode: "full\n  oops: [unclosed'));
  assert.equal((await runCli(server().addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const res = await runCli(server().addr, ['start-task', files.task]);
  assert.equal(res.code, 1);
  assert.equal(res.json.code, 'CONFIG_YAML');
  assert.match(String(res.json.msg), /line \d+/);
  await noTasks();
});

test('an unknown field is named with its path', async () => {
  const files = await exampleFiles({ taskMode: 'full' });
  const text = await readFile(files.task, 'utf8');
  await writeFile(
    files.task,
    text.replace('extra-args: "-B test_db -T test_table"', 'extra-args: "-B test_db -T test_table"\n    threadz: 4'),
  );
  assert.equal((await runCli(server().addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const res = await runCli(server().addr, ['start-task', files.task]);
  assert.equal(res.code, 1, res.stdout);
  assert.equal(res.json.code, 'CONFIG_INVALID');
  assert.match(String(res.json.msg), /mydumpers\.global.*threadz|threadz.*mydumpers\.global/);
  await noTasks();
});

test('a source that is not registered is named by its field', async () => {
  const files = await exampleFiles({ taskMode: 'full' });
  assert.equal((await runCli(server().addr, ['operate-source', 'create', files.sources[0]!])).code, 0);
  const res = await runCli(server().addr, ['start-task', files.task]);
  assert.equal(res.code, 1);
  assert.equal(res.json.code, 'SOURCE_NOT_FOUND');
  assert.match(String(res.json.msg), /mysql-instances\[1\]\.source-id: source "mysql-replica-02" is not registered/);
  await noTasks();
});

for (const [what, edit, expected] of [
  ['a wrong password', (t: string) => t.replace(/password: ".*"/, 'password: "wrong"'), /access denied/i],
  ['an unreachable host', (t: string) => t.replace(/port: \d+/, 'port: 1'), /cannot connect|ECONNREFUSED/],
] as const) {
  test(`${what} pauses the task at precheck, naming the source, and writes nothing to the target`, async () => {
    const stack = await getStack();
    const files = await exampleFiles({ taskMode: 'full' });
    await writeFile(files.sources[1]!, edit(await readFile(files.sources[1]!, 'utf8')));
    assert.equal((await runCli(server().addr, ['operate-source', 'create', ...files.sources])).code, 0);
    assert.equal((await runCli(server().addr, ['start-task', files.task])).code, 0);
    const status = await waitForStatus(server().addr, 'test', (s) => s.stage !== 'Running', 60_000);
    assert.equal(status.stage, 'Paused');
    const errors = status.sources.flatMap((s) => s.subTaskStatus[0]!.result?.errors ?? []);
    const message = errors.map((e) => e.Message).join('\n');
    assert.match(message, /precheck failed/);
    assert.match(message, /mysql-replica-02/);
    assert.match(message, expected);
    assert.deepEqual(await userSchemas(stack.target), []);
  });
}

test('binlog off on a source is a failure for a replicating mode (all), before anything is written', async () => {
  const stack = await getStack();
  const files = await exampleFiles();
  // Point source 2 at the target server, which runs without binlog.
  const source2 = (await readFile(files.sources[1]!, 'utf8'))
    .replace(/port: \d+/, `port: ${stack.target.port}`)
    .replace(/password: ".*"/, 'password: ""');
  await writeFile(files.sources[1]!, source2);
  await execSql(stack.target, ['CREATE DATABASE test_db', 'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, v TEXT)']);
  assert.equal((await runCli(server().addr, ['operate-source', 'create', ...files.sources])).code, 0);
  const check = await runCli(server().addr, ['check-task', files.task]);
  assert.equal(check.code, 1);
  const failed = (check.json.checkResult as { name: string; state: string; sourceId?: string }[]).filter((r) => r.state === 'fail');
  assert.ok(
    failed.some((r) => r.name === 'binlog_enable' && r.sourceId === 'mysql-replica-02'),
    JSON.stringify(failed),
  );
  await noTasks();

  assert.equal((await runCli(server().addr, ['start-task', files.task])).code, 0);
  const status = await waitForStatus(server().addr, 'test', (s) => s.stage !== 'Running', 60_000);
  assert.equal(status.stage, 'Paused');
  const message = status.sources
    .flatMap((s) => s.subTaskStatus[0]!.result?.errors ?? [])
    .map((e) => e.Message)
    .join('\n');
  assert.match(message, /binlog_enable.*mysql-replica-02|mysql-replica-02.*binlog/);
  const conn = await mysql.createConnection(stack.target);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM test_db.test_table');
    assert.equal(Number(rows[0]!.n), 0, 'nothing was loaded');
  } finally {
    await conn.end();
  }
  assert.deepEqual(await userSchemas(stack.target), ['test_db'], 'no meta schema was created either');
});

test('unknown task and unreachable server give clear CLI errors', async () => {
  const unknown = await runCli(server().addr, ['query-status', 'nope']);
  assert.equal(unknown.code, 1);
  assert.match(String(unknown.json.msg), /task "nope" does not exist/);
  const unreachable = await runCli('127.0.0.1:1', ['query-status']);
  assert.equal(unreachable.code, 1);
  assert.match(String(unreachable.json.msg), /cannot reach dmq at http:\/\/127\.0\.0\.1:1/);
});
