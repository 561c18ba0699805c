import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { decryptPassword } from '../../src/shared/config/password.js';
import { QUEUE_PREFIX, STATIC_QUEUES } from '../../src/shared/queue/queues.js';
import { redisUrl } from '../harness/stack.js';
import { dmqForFile, runCli, startDmq } from '../support/dmq.js';
import { exampleFiles } from '../support/fixtures.js';

const TOKEN = 'test-token-3f9a1c';
const READ_TOKEN = 'read-token-72be04';
const server = dmqForFile({ env: { DMQ_TOKEN: TOKEN, DMQ_READ_TOKEN: READ_TOKEN } });

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://${server().addr}${path}`, { headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
  fetch(`http://${server().addr}${path}`, { method, headers, body });
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('with DMQ_TOKEN, the API, dashboard and metrics need it; probes do not', async () => {
  for (const path of ['/api/v1/tasks', '/api/v1/sources', '/metrics', '/dashboard']) {
    const none = await get(path);
    assert.equal(none.status, 401, `${path} without a token`);
    const body = (await none.json()) as { code: string; message: string; workaround: string };
    assert.equal(body.code, 'UNAUTHORIZED');
    assert.match(body.message, /requires its token/);
    assert.match(body.workaround, /Authorization: Bearer/);
    assert.equal((await get(path, { authorization: 'Bearer wrong-token-000' })).status, 401, `${path} with a wrong token`);
    assert.ok((await get(path, { authorization: `Bearer ${TOKEN}` })).status < 400, `${path} with the token`);
  }
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
});

test('the dashboard asks browsers for basic auth and takes the token as password', async () => {
  const none = await get('/dashboard');
  assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="dmq"/);
  assert.equal((await get('/dashboard', { authorization: basic('anyone', 'nope') })).status, 401);
  const ok = await get('/dashboard', { authorization: basic('anyone', TOKEN) });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /<html/i);
});

test('the CLI sends --token or DMQ_TOKEN; without it, it says what is wrong', async () => {
  const without = await runCli(server().addr, ['query-status']);
  assert.equal(without.code, 1);
  assert.equal(without.json.result, false);
  assert.match(String(without.json.msg), /requires its token[\s\S]*--token or DMQ_TOKEN/);
  const wrong = await runCli(server().addr, ['--token', 'not-the-token', 'query-status']);
  assert.match(String(wrong.json.msg), /does not match/);
  const withFlag = await runCli(server().addr, ['--token', TOKEN, 'query-status']);
  assert.equal(withFlag.code, 0, withFlag.stdout);
  assert.equal(withFlag.json.result, true);
});

test('without DMQ_TOKEN, dmq listens on 127.0.0.1 only even when told 0.0.0.0, and says so', async () => {
  const open = await startDmq({ env: { DMQ_HOST: '0.0.0.0', DMQ_TOKEN: '' } });
  try {
    assert.match(open.output(), /DMQ_TOKEN is not set, so the API listens on 127\.0\.0\.1 only instead of 0\.0\.0\.0/);
    assert.match(open.output(), /"url":"http:\/\/127\.0\.0\.1:/);
    assert.equal((await fetch(`http://${open.addr}/api/v1/tasks`)).status, 200);
  } finally {
    await open.stop();
  }
});

test('the read-only token reads everything: the API, /metrics as Prometheus scrapes it, the pages, Bull Board', async () => {
  for (const path of ['/api/v1/tasks', '/api/v1/sources', '/api/v1/openapi.json', '/tasks', '/dashboard', '/dashboard/api/queues']) {
    const res = await get(path, bearer(READ_TOKEN));
    assert.equal(res.status, 200, path);
  }
  // Prometheus's own request: bearer credentials and its Accept header.
  const scrape = await get('/metrics', {
    ...bearer(READ_TOKEN),
    accept: 'application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1',
  });
  assert.equal(scrape.status, 200);
  assert.match(await scrape.text(), /^dmq_queue_jobs\{queue="precheck",state="wait"\} \d+$/m);
  const page = await get('/tasks', { authorization: basic('viewer', READ_TOKEN) });
  assert.equal(page.status, 200, 'a browser logs in with it');
});

test('the read-only token changes nothing: API changes and Bull Board actions answer 403', async () => {
  const redis = new Redis(await redisUrl());
  const queue = new Queue(STATIC_QUEUES.precheck, { connection: redis, prefix: QUEUE_PREFIX });
  try {
    const yaml = await readFile((await exampleFiles()).sources[0]!, 'utf8');
    const changes: [string, string, Record<string, string>, string?][] = [
      ['POST', '/api/v1/sources', { 'content-type': 'application/yaml' }, yaml],
      ['POST', '/api/v1/tasks/check', { 'content-type': 'application/yaml' }, 'name: x'],
      ['POST', '/api/v1/tasks/any/pause', { 'x-requested-by': 'test' }],
      ['DELETE', '/api/v1/sources/mysql-replica-01', {}],
      ['PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/pause`, {}],
      ['PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/clean/completed`, {}],
    ];
    for (const [method, path, headers, body] of changes) {
      const res = await call(method, path, { ...bearer(READ_TOKEN), ...headers }, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      const answer = (await res.json()) as { code: string; message: string; workaround: string };
      assert.equal(answer.code, 'FORBIDDEN');
      assert.equal(answer.message, `${method} ${path} changes dmq; the token given is the read-only DMQ_READ_TOKEN`);
      assert.match(answer.workaround, /admin token \(DMQ_TOKEN\)/);
    }
    assert.deepEqual(await redis.hkeys('dmq:sources'), [], 'no source registered');
    assert.equal(await queue.isPaused(), false, 'the queue runs on');

    // The admin token does the same, so the 403s were about the token.
    assert.equal((await call('POST', '/api/v1/sources', { ...bearer(TOKEN), 'content-type': 'application/yaml' }, yaml)).status, 201);
    assert.equal((await get('/api/v1/sources/mysql-replica-01', bearer(READ_TOKEN))).status, 200);
    assert.equal((await call('DELETE', '/api/v1/sources/mysql-replica-01', bearer(TOKEN))).status, 204);
    assert.equal((await call('PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/pause`, bearer(TOKEN))).status, 200);
    assert.equal(await queue.isPaused(), true);
    assert.equal((await call('PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/resume`, bearer(TOKEN))).status, 200);
    assert.equal(await queue.isPaused(), false);
  } finally {
    await queue.close();
    redis.disconnect();
  }
});

test('the CLI takes the token from standard input (--token -); with the read-only one it queries but does not change', async () => {
  const fromStdin = await runCli(server().addr, ['--token', '-', 'query-status'], { input: `${TOKEN}\n` });
  assert.equal(fromStdin.code, 0, fromStdin.stdout);
  const noToken = await runCli(server().addr, ['--token', '-', 'query-status'], { input: '' });
  assert.equal(noToken.code, 1);
  assert.match(String(noToken.json.msg), /--token -: no token on standard input/);

  const reader = { env: { DMQ_TOKEN: READ_TOKEN } };
  const query = await runCli(server().addr, ['query-status'], reader);
  assert.equal(query.code, 0, query.stdout);
  const pause = await runCli(server().addr, ['pause-task', 'any'], reader);
  assert.equal(pause.code, 1);
  assert.match(String(pause.json.msg), /POST \/api\/v1\/tasks\/any\/pause changes dmq; the token given is the read-only DMQ_READ_TOKEN/);
});

test('dmq encrypt reads the password from standard input; --help tells how to keep secrets out of the process list', async () => {
  const key = 'c0ffee'.repeat(10).concat('abcd');
  const plain = 'S3cret pass #1 é';
  const runs = [
    await runCli(server().addr, ['encrypt'], { input: `${plain}\n`, env: { DMQ_SECRET_KEY: key } }),
    await runCli(server().addr, ['encrypt', '-'], { input: `${plain}\r\n`, env: { DMQ_SECRET_KEY: key } }),
  ];
  const saved = process.env.DMQ_SECRET_KEY;
  process.env.DMQ_SECRET_KEY = key;
  try {
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      const sealed = run.stdout.trim();
      assert.ok(!sealed.includes('S3cret'), sealed);
      assert.equal(decryptPassword(sealed), plain);
    }
  } finally {
    if (saved === undefined) delete process.env.DMQ_SECRET_KEY;
    else process.env.DMQ_SECRET_KEY = saved;
  }
  const empty = await runCli(server().addr, ['encrypt'], { input: '' });
  assert.equal(empty.code, 1);
  assert.match(String(empty.json.msg), /no password on standard input/);

  const help = (await runCli(server().addr, ['--help'])).stdout.replace(/\s+/g, ' ');
  assert.match(help, /`--token -` reads it from standard input/);
  assert.match(help, /shows in the process list to every user of this machine/);
  const encryptHelp = (await runCli(server().addr, ['encrypt', '--help'])).stdout.replace(/\s+/g, ' ');
  assert.match(encryptHelp, /without it \(or with -\) the first line of standard input/);
  assert.match(encryptHelp, /dmq encrypt < password\.txt/);
});
