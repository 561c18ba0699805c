import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { decryptPassword } from '../../src/shared/config/password.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForCaughtUp, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, userWithPassword } from '../support/fixtures.js';
import { until } from '../support/shard-locks.js';
import { redisEntries } from '../support/redis-dump.js';

/**
 * Passwords are stored sealed with DMQ_SECRET_KEY, and nowhere else: BullMQ job payloads (which
 * Bull Board shows) name tasks and sources and carry no config. DM's default key is public, so
 * running with it is warned about, and refused where a key is required.
 */
const KEY = 'c0ffee11'.repeat(8);
const DM_DEFAULT_KEY = 'a529b7665997f043a30ac8fadcb51d6aa032c226ab5b7750530b12b8c1a16a48';
const SOURCE_PASSWORD = 'Src-4f1d-job-secret';
const TARGET_PASSWORD = 'Tgt-0b7e-job-secret';
const BIN = resolve(import.meta.dirname, '../../bin/dmq.js');

let dmq: DmqServer;

before(async () => {
  await resetDatabases();
  // The test decrypts what it finds with the server's key.
  process.env.DMQ_SECRET_KEY = KEY;
  // Chunks go through files, so the scan meets load jobs too (a direct copy is its dump job).
  dmq = await startDmq({ env: { DMQ_SECRET_KEY: KEY, DMQ_COPY_PATH: 'files' } });
});

after(async () => {
  await dmq?.stop();
  delete process.env.DMQ_SECRET_KEY;
});

/** Waits until an apply job of the task runs. */
async function applyJobRunning(url: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await until('an apply job running', async () => {
      const active = await redis.keys('dmq:apply.jobs.*:active');
      const lengths = await Promise.all(active.map((k) => redis.llen(k)));
      return lengths.some((n) => n > 0) ? true : undefined;
    });
  } finally {
    redis.disconnect();
  }
}

/** Every string inside a JSON value. */
function leaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => [k, ...leaves(v)]);
  return [];
}

/** Every Redis value but the registry's (which holds the sealed passwords, where they belong), and the data of every BullMQ job, in any state, by queue. */
async function scanRedis(url: string): Promise<{ texts: string[]; jobs: Map<string, unknown[]> }> {
  const texts: string[] = [];
  const jobs = new Map<string, unknown[]>();
  for (const { key, values, hash } of await redisEntries(url)) {
    if (key === 'dmq:sources' || key === 'dmq:tasks') continue;
    texts.push(key, ...values);
    // A BullMQ job: dmq:<queue>:<id>, a hash with its payload under `data`.
    const queue = /^dmq:(.+):[^:]+$/.exec(key)?.[1];
    if (queue && hash?.data !== undefined && hash.name !== undefined) jobs.set(queue, [...(jobs.get(queue) ?? []), JSON.parse(hash.data)]);
  }
  return { texts, jobs };
}

test('no BullMQ job, in any queue or state, carries a password, plain or encrypted, or a config', { timeout: 240_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    ...userWithPassword('job_reader', SOURCE_PASSWORD),
    'CREATE DATABASE jobs',
    'CREATE TABLE jobs.items (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO jobs.items SELECT seq, CONCAT('v', seq) FROM jobs.seq_1_to_300",
  ]);
  await execSql(stack.target, userWithPassword('job_writer', TARGET_PASSWORD));
  const dir = await mkdtemp(join(tmpdir(), 'dmq-jobs-'));
  await writeFile(
    join(dir, 'source.yaml'),
    `source-id: jobs-source\nfrom: { host: 127.0.0.1, port: ${stack.upstreams[0].port}, user: job_reader, password: "${SOURCE_PASSWORD}" }\n`,
  );
  await writeFile(
    join(dir, 'task.yaml'),
    [
      'name: jobs',
      'task-mode: all',
      `target-database: { host: 127.0.0.1, port: ${stack.target.port}, user: job_writer, password: "${TARGET_PASSWORD}" }`,
      'mysql-instances:',
      '  - source-id: jobs-source',
      '    block-allow-list: only',
      '    mydumper: { rows: 100 }',
      'block-allow-list:',
      '  only: { do-dbs: [jobs] }',
    ].join('\n'),
  );
  assert.equal((await runCli(dmq.addr, ['operate-source', 'create', join(dir, 'source.yaml')])).code, 0);
  const checked = await runCli(dmq.addr, ['check-task', join(dir, 'task.yaml')]);
  assert.equal(checked.json.result, true, checked.stdout);
  assert.equal((await runCli(dmq.addr, ['start-task', join(dir, 'task.yaml')])).code, 0);
  await waitForStatus(dmq.addr, 'jobs', (s) => s.stage !== 'Running' || s.sources[0]!.subTaskStatus[0]!.sync?.synced === true, 120_000);
  // A completed apply job is removed at once: one is held running on a locked target row while Redis is scanned.
  const holder = await mysql.createConnection(stack.target);
  let scanned: Awaited<ReturnType<typeof scanRedis>>;
  try {
    await holder.query('START TRANSACTION');
    await holder.query('SELECT * FROM jobs.items WHERE id = 1 FOR UPDATE');
    await execSql(stack.upstreams[0], [
      "UPDATE jobs.items SET v = 'changed' WHERE id <= 20",
      'ALTER TABLE jobs.items ADD COLUMN note VARCHAR(10)',
      "INSERT INTO jobs.items VALUES (1000, 'new', 'n')",
    ]);
    await applyJobRunning(stack.redis.url);
    scanned = await scanRedis(stack.redis.url);
  } finally {
    await holder.end();
  }
  const status = await waitForCaughtUp(dmq.addr, 'jobs', [stack.upstreams[0]]);
  assert.equal(status.stage, 'Running', JSON.stringify(status, null, 2));

  const redis = new Redis(stack.redis.url);
  const sealed: string[] = [];
  try {
    const source = JSON.parse((await redis.hget('dmq:sources', 'jobs-source'))!) as { from: { password: string } };
    const task = JSON.parse((await redis.hget('dmq:tasks', 'jobs'))!) as { target: { password: string } };
    sealed.push(source.from.password, task.target.password);
  } finally {
    redis.disconnect();
  }
  assert.deepEqual(
    sealed.map((s) => decryptPassword(s)),
    [SOURCE_PASSWORD, TARGET_PASSWORD],
    'the registry holds them sealed with DMQ_SECRET_KEY',
  );
  assert.ok(!sealed.includes(SOURCE_PASSWORD) && !sealed.includes(TARGET_PASSWORD));

  const { texts, jobs } = scanned;
  const queues = [...jobs.keys()].map((q) => q.split('.')[0]);
  for (const kind of ['precheck', 'plan', 'dump', 'load', 'apply'])
    assert.ok(queues.includes(kind), `jobs of ${kind} were scanned (${[...jobs.keys()]})`);
  for (const secret of [SOURCE_PASSWORD, TARGET_PASSWORD, ...sealed]) {
    assert.ok(!texts.some((t) => t.includes(secret)), `no job, event or other Redis value holds ${JSON.stringify(secret)}`);
  }
  for (const [queue, payloads] of jobs) {
    for (const data of payloads) {
      const strings = leaves(data);
      for (const s of strings) {
        assert.ok(![SOURCE_PASSWORD, TARGET_PASSWORD].includes(decryptPassword(s)), `a ${queue} job holds an encrypted password`);
      }
      assert.ok(
        !strings.some((s) => ['password', 'config', 'target-database', 'from'].includes(s)),
        `a ${queue} job carries a config: ${JSON.stringify(data)}`,
      );
    }
  }
  assert.equal((await runCli(dmq.addr, ['stop-task', '--remove-meta', 'jobs'])).code, 0);
});

/** `dmq serve` on its own, until it exits or answers /healthz. */
function serveOnce(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--role', 'worker'], {
      env: { ...process.env, DMQ_SECRET_KEY: '', DMQ_REQUIRE_SECRET_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const record = (d: Buffer) => {
      output += d.toString();
      // A worker logs this once it runs; nothing more to learn.
      if (output.includes('dmq processors running')) child.kill('SIGTERM');
    };
    child.stdout.on('data', record);
    child.stderr.on('data', record);
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

test("DM's public default key: a warning at start, a refusal with DMQ_REQUIRE_SECRET_KEY=true", { timeout: 120_000 }, async () => {
  const redisUrl = (await getStack()).redis.url;
  const warned = await serveOnce({ REDIS_URL: redisUrl });
  assert.match(warned.output, /DMQ_SECRET_KEY is not set: passwords stored in Redis are encrypted with DM's public default key/);
  assert.match(warned.output, /dmq processors running/);

  for (const key of ['', DM_DEFAULT_KEY]) {
    const refused = await serveOnce({ REDIS_URL: redisUrl, DMQ_REQUIRE_SECRET_KEY: 'true', DMQ_SECRET_KEY: key });
    assert.notEqual(refused.code, 0, refused.output);
    assert.match(refused.output, /DMQ_REQUIRE_SECRET_KEY is set, but DMQ_SECRET_KEY is not \(or is DM's public default key\)/);
    assert.match(refused.output, /workaround: set DMQ_SECRET_KEY to 64 hex characters of your own \(openssl rand -hex 32\)/);
    assert.doesNotMatch(refused.output, /dmq processors running/);
  }

  const own = await serveOnce({ REDIS_URL: redisUrl, DMQ_REQUIRE_SECRET_KEY: 'true', DMQ_SECRET_KEY: KEY });
  assert.match(own.output, /dmq processors running/);
  assert.doesNotMatch(own.output, /public default key/);

  const malformed = await serveOnce({ REDIS_URL: redisUrl, DMQ_SECRET_KEY: 'not-hex' });
  assert.notEqual(malformed.code, 0);
  assert.match(malformed.output, /DMQ_SECRET_KEY must be 64 hex characters/);
});
