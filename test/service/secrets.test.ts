import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForStatus, type DmqServer, type TaskStatus } from '../support/dmq.js';
import { execSql, userWithPassword } from '../support/fixtures.js';
import { everythingInRedis } from '../support/redis-dump.js';

const SOURCE_PASSWORD = 'Src-7c1e-plain-secret';
const TARGET_PASSWORD = 'Tgt-91ab-plain-secret';
let dmq: DmqServer;

before(async () => {
  await resetDatabases();
  dmq = await startDmq({ env: { DMQ_LOG_LEVEL: 'debug' } });
});

after(async () => {
  await dmq?.stop();
});

test('passwords of sources and target reach no log line, no Redis value (jobs included) and no API answer', {
  timeout: 180_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    ...userWithPassword('keeper', SOURCE_PASSWORD),
    'CREATE DATABASE vault',
    'CREATE TABLE vault.items (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO vault.items SELECT seq, CONCAT('v', seq) FROM vault.seq_1_to_500",
  ]);
  await execSql(stack.target, userWithPassword('loader', TARGET_PASSWORD));
  const dir = await mkdtemp(join(tmpdir(), 'dmq-secrets-'));
  await writeFile(
    join(dir, 'source.yaml'),
    [
      'source-id: vault-source',
      `from: { host: 127.0.0.1, port: ${stack.upstreams[0].port}, user: keeper, password: "${SOURCE_PASSWORD}" }`,
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'task.yaml'),
    [
      'name: vault',
      'task-mode: all',
      `target-database: { host: 127.0.0.1, port: ${stack.target.port}, user: loader, password: "${TARGET_PASSWORD}" }`,
      'mysql-instances:',
      '  - source-id: vault-source',
      '    block-allow-list: only',
      'block-allow-list:',
      '  only: { do-dbs: [vault] }',
    ].join('\n'),
  );

  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', join(dir, 'source.yaml')])).code, 0);
  assert.equal((await runCli(dmq.addr, ['start-task', join(dir, 'task.yaml')])).code, 0);
  await waitForStatus(
    dmq.addr,
    'vault',
    (s: TaskStatus) => s.stage !== 'Running' || s.sources[0]!.subTaskStatus[0]!.sync?.synced === true,
    120_000,
  );
  await execSql(stack.upstreams[0], ["UPDATE vault.items SET v = 'changed' WHERE id <= 10"]);
  const status = await waitForStatus(
    dmq.addr,
    'vault',
    (s) => s.stage !== 'Running' || (s.sources[0]!.subTaskStatus[0]!.sync?.totalEvents ?? 0) > 0,
    60_000,
  );
  assert.equal(status.stage, 'Running', JSON.stringify(status));

  const answers = [await runCli(dmq.addr, ['query-status', 'vault']), await runCli(dmq.addr, ['operate-source', 'show'])].map(
    (r) => r.stdout,
  );
  for (const path of [
    '/api/v1/sources',
    '/api/v1/sources/vault-source',
    '/api/v1/tasks',
    '/api/v1/tasks/vault',
    '/api/v1/tasks/vault/status',
  ]) {
    answers.push(await (await fetch(`http://${dmq.addr}${path}`)).text());
  }
  const places: [string, string[]][] = [
    ['the log of dmq serve (debug level)', [dmq.output()]],
    ['Redis (registry, queues, job payloads, events)', await everythingInRedis(stack.redis.url)],
    ['the API and CLI answers', answers],
  ];
  assert.ok(dmq.output().includes('vault'), 'the log did record the task');
  for (const [where, texts] of places) {
    for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD]) {
      assert.ok(!texts.some((t) => t.includes(secret)), `${where} must not contain a clear password`);
    }
  }
  assert.equal((await runCli(dmq.addr, ['stop-task', '--remove-meta', 'vault'])).code, 0);
});
