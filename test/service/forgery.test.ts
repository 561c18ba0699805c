import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { QUEUE_PREFIX, STATIC_QUEUES } from '../../src/shared/queue/queues.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, exampleFiles, writeTask } from '../support/fixtures.js';

/**
 * dmq without a token, as on a laptop: every defence against a web page in the operator's
 * browser must hold on its own, because nothing else stands between such a page and the API.
 */
let dmq: DmqServer;
let browser: Browser;
let redis: Redis;
/** source.yaml of mysql-replica-02, which no test registers for good: what an attacker sends. */
let attackYaml: string;

interface Answer {
  status: number;
  body: { code?: string; message?: string; workaround?: string };
}

/** A raw HTTP request, so that Host and Origin are exactly what a browser under attack sends. */
function sendTo(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text === '' ? {} : (JSON.parse(text) as Answer['body']) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) =>
  sendTo(dmq.port, method, path, headers, body);

async function assertNothingRegistered(): Promise<void> {
  assert.equal((await send('GET', '/api/v1/sources/mysql-replica-02')).status, 404, 'the API knows no mysql-replica-02');
  assert.deepEqual(await redis.hkeys('dmq:sources'), ['mysql-replica-01'], 'Redis holds only the source the CLI registered');
}

async function assertStillRunning(): Promise<void> {
  const status = await send('GET', '/api/v1/tasks/guarded/status');
  assert.equal((status.body as { stage?: string }).stage, 'Running', 'the API shows the task running');
  const state = JSON.parse((await redis.get('dmq:task:guarded:state')) ?? '{}') as { stage?: string };
  assert.equal(state.stage, 'Running', 'Redis holds the task as running');
}

before(async () => {
  await resetDatabases();
  const stack = await getStack();
  redis = new Redis(stack.redis.url);
  dmq = await startDmq();
  // The attacker's names resolve to this machine, as DNS rebinding makes them do.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--host-resolver-rules=MAP attacker.example 127.0.0.1, MAP rebind.example 127.0.0.1'],
  });
  const files = await exampleFiles();
  attackYaml = await readFile(files.sources[1]!, 'utf8');
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE guard',
    'CREATE TABLE guard.items (id INT PRIMARY KEY, v VARCHAR(20))',
    "INSERT INTO guard.items SELECT seq, CONCAT('v', seq) FROM guard.seq_1_to_200",
  ]);
  const created = await runCli(dmq.addr, ['operate-source', 'create', files.sources[0]!]);
  assert.equal(created.code, 0, created.stdout);
  const started = await runCli(dmq.addr, ['start-task', await writeTask({ name: 'guarded', mode: 'all', schema: 'guard' })]);
  assert.equal(started.code, 0, started.stdout);
  await waitForStatus(dmq.addr, 'guarded', (s) => s.stage !== 'Running' || s.sources[0]!.subTaskStatus[0]!.sync?.synced === true);
  await assertStillRunning();
});

after(async () => {
  await browser?.close();
  await dmq?.stop();
  redis?.disconnect();
});

test('a change sent as text/plain, as a form or as a bare POST answers 415 and changes nothing', async () => {
  for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    const refused = await send('POST', '/api/v1/sources', { 'content-type': type }, attackYaml);
    assert.equal(refused.status, 415, type);
    assert.equal(refused.body.code, 'MEDIA_TYPE_REFUSED');
    assert.match(refused.body.message!, /any web page can send that/);
    assert.match(refused.body.workaround!, /application\/yaml/);
  }
  const untyped = await send('POST', '/api/v1/sources', {}, Buffer.from(attackYaml));
  assert.equal(untyped.status, 415);
  assert.match(untyped.body.message!, /neither a Content-Type nor an X-Requested-By header/);
  assert.equal((await send('POST', '/api/v1/tasks/guarded/pause')).status, 415, 'a bare POST');
  assert.equal((await send('POST', '/api/v1/tasks/guarded/pause', { 'content-type': 'text/plain' }, '')).status, 415);
  await assertNothingRegistered();
  await assertStillRunning();

  // The same file as a program sends it is taken: the refusal was about how it came.
  assert.equal((await send('POST', '/api/v1/sources', { 'content-type': 'application/yaml' }, attackYaml)).status, 201);
  assert.equal((await send('DELETE', '/api/v1/sources/mysql-replica-02')).status, 204);
  await assertNothingRegistered();
});

test('a Host that is not a name of dmq answers 403 on every route (DNS rebinding); the probes answer', async () => {
  const evil = { host: `evil.example:${dmq.port}` };
  for (const path of ['/api/v1/tasks', '/api/v1/tasks/guarded/status', '/metrics', '/tasks', '/dashboard', '/api/v1/docs']) {
    const refused = await send('GET', path, evil);
    assert.equal(refused.status, 403, path);
    assert.equal(refused.body.code, 'FORBIDDEN');
    assert.match(refused.body.message!, /Host "evil\.example:\d+" is not a name this dmq server answers to/);
    assert.match(refused.body.workaround!, /to use evil\.example, add it to DMQ_ALLOWED_HOSTS/);
  }
  const create = await send('POST', '/api/v1/sources', { ...evil, 'content-type': 'application/yaml' }, attackYaml);
  assert.equal(create.status, 403);
  const pause = await send('POST', '/api/v1/tasks/guarded/pause', { ...evil, 'content-type': 'application/json' }, '{}');
  assert.equal(pause.status, 403);
  for (const host of ['localhost.evil.example', '127.0.0.1.evil.example', 'evil.example']) {
    assert.equal((await send('GET', '/api/v1/tasks', { host })).status, 403, host);
  }
  for (const host of [`127.0.0.1:${dmq.port}`, `localhost:${dmq.port}`, `[::1]:${dmq.port}`, 'app.localhost']) {
    assert.equal((await send('GET', '/api/v1/tasks', { host })).status, 200, host);
  }
  assert.equal((await send('GET', '/healthz', evil)).status, 200, 'probes come by whatever name the orchestrator uses');
  await assertNothingRegistered();
  await assertStillRunning();
});

test("another site's page may not pause a task (Origin), even with the header; the CLI still does", async () => {
  for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1:1', `http://localhost:${dmq.port}`]) {
    const refused = await send('POST', '/api/v1/tasks/guarded/pause', { origin, 'x-requested-by': 'page' });
    assert.equal(refused.status, 403, origin);
    assert.equal(refused.body.code, 'FORBIDDEN');
    assert.match(refused.body.message!, new RegExp(`a web page at ${origin.replace(/\./g, '\\.')} may not call this dmq server`));
  }
  await assertStillRunning();

  const paused = await runCli(dmq.addr, ['pause-task', 'guarded']);
  assert.equal(paused.code, 0, paused.stdout);
  await waitForStatus(dmq.addr, 'guarded', (s) => s.stage === 'Paused', 30_000);
  const resumed = await runCli(dmq.addr, ['resume-task', 'guarded']);
  assert.equal(resumed.code, 0, resumed.stdout);
  await waitForStatus(dmq.addr, 'guarded', (s) => s.stage === 'Running', 30_000);
  await assertStillRunning();
});

test('DMQ_ALLOWED_HOSTS admits the names a deployment reaches dmq by, and pages served under them', async () => {
  const named = await startDmq({ env: { DMQ_ALLOWED_HOSTS: 'dmq.internal, .svc.test' } });
  try {
    const at = async (host: string) => (await sendTo(named.port, 'GET', '/api/v1/tasks', { host })).status;
    // A task that does not exist: 404 means the request got through to the route.
    const pauseFrom = async (origin: string) =>
      (await sendTo(named.port, 'POST', '/api/v1/tasks/nope/pause', { origin, 'x-requested-by': 'page' })).status;
    assert.equal(await at(`dmq.internal:${named.port}`), 200);
    assert.equal(await at('dmq.ops.svc.test'), 200);
    assert.equal(await at('svc.test'), 200);
    assert.equal(await at('evil.example'), 403);
    assert.equal(await at('dmq.internal.evil.example'), 403);
    // Behind a proxy that rewrites Host to dmq's address, the page names itself in Origin.
    assert.equal(await pauseFrom('https://dmq.internal'), 404);
    assert.equal(await pauseFrom('http://api.ops.svc.test:8080'), 404);
    assert.equal(await pauseFrom('https://evil.example'), 403);
  } finally {
    await named.stop();
  }
});

/** Every answer the browser got from dmq while the page ran. */
function dmqAnswers(page: Page): [method: string, path: string, status: number][] {
  const answers: [string, string, number][] = [];
  page.on('response', (res) => {
    const url = new URL(res.url());
    if (url.port === String(dmq.port)) answers.push([res.request().method(), url.pathname, res.status()]);
  });
  return answers;
}

test("a page on another site cannot register a source or pause a task through the operator's browser", async () => {
  // What a malicious page does: requests a browser sends anywhere without asking the server
  // first (no-cors fetches, a form), the YAML as text/plain, credentials included.
  const target = `http://127.0.0.1:${dmq.port}`;
  const html = `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="post" target="sink" action="${target}/api/v1/tasks/guarded/pause"><input name="a" value="b"></form>
<script>
const yaml = ${JSON.stringify(attackYaml)};
const sent = [
  fetch('${target}/api/v1/sources', { method: 'POST', mode: 'no-cors', body: yaml }),
  fetch('${target}/api/v1/sources', { method: 'POST', mode: 'no-cors', credentials: 'include', body: yaml }),
  fetch('${target}/api/v1/sources', { method: 'POST', mode: 'no-cors', body: new Blob([yaml]) }),
  fetch('${target}/api/v1/tasks/guarded/pause', { method: 'POST', mode: 'no-cors', credentials: 'include' }),
  new Promise((done) => { document.querySelector('iframe').onload = done; document.getElementById('f').submit(); }),
];
Promise.allSettled(sent).then(() => { document.title = 'done'; });
</script></body></html>`;
  const site: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const page = await browser.newPage();
  try {
    const answers = dmqAnswers(page);
    await page.goto(`http://attacker.example:${(site.address() as AddressInfo).port}/`);
    await page.waitForFunction('document.title === "done"', undefined, { timeout: 15_000 });
    // Each request reached dmq (so the browser did send it) and was refused there.
    assert.deepEqual(answers.map(([m, p]) => `${m} ${p}`).sort(), [
      'POST /api/v1/sources',
      'POST /api/v1/sources',
      'POST /api/v1/sources',
      'POST /api/v1/tasks/guarded/pause',
      'POST /api/v1/tasks/guarded/pause',
    ]);
    for (const [method, path, status] of answers) assert.equal(status, 403, `${method} ${path}`);
  } finally {
    await page.close();
    site.close();
  }
  await assertNothingRegistered();
  await assertStillRunning();
});

test("after DNS rebinding the attacker's page reaches dmq under the attacker's name, and is refused", async () => {
  const page = await browser.newPage();
  try {
    const answers = dmqAnswers(page);
    // The page's origin is now http://rebind.example:<dmq's port>: to the browser, dmq is same-origin.
    const landing = await page.goto(`http://rebind.example:${dmq.port}/tasks`);
    assert.equal(landing?.status(), 403);
    // A string, not a function: the test runner's transpiler would add helpers the page lacks.
    const statuses = await page.evaluate(`Promise.all([
      fetch('/api/v1/tasks'),
      fetch('/api/v1/sources', { method: 'POST', headers: { 'content-type': 'application/yaml', 'x-requested-by': 'page' }, body: ${JSON.stringify(attackYaml)} }),
      fetch('/api/v1/tasks/guarded/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
    ]).then((answers) => answers.map((a) => a.status))`);
    assert.deepEqual(statuses, [403, 403, 403]);
    assert.equal(answers.length, 4, 'the browser sent every request');
  } finally {
    await page.close();
  }
  await assertNothingRegistered();
  await assertStillRunning();
});

test("the task page and Bull Board work in a browser, Bull Board's queue actions included", async () => {
  const queue = new Queue(STATIC_QUEUES.precheck, { connection: redis.duplicate(), prefix: QUEUE_PREFIX });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  try {
    await page.goto(`http://127.0.0.1:${dmq.port}/tasks`);
    await page.locator('[data-task="guarded"]').waitFor({ timeout: 15_000 });

    // By name this time: localhost is one of dmq's names.
    const answers = dmqAnswers(page);
    await page.goto(`http://localhost:${dmq.port}/dashboard/queue/${STATIC_QUEUES.precheck}`);
    const act = async (name: 'Pause' | 'Resume') => {
      await page.locator('button[aria-haspopup]').last().click();
      await page.getByRole('menuitem', { name }).click();
      const answered = page.waitForResponse((res) => res.request().method() === 'PUT');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await answered;
    };
    await act('Pause');
    assert.equal(await queue.isPaused(), true, 'Bull Board paused the queue');
    await act('Resume');
    assert.equal(await queue.isPaused(), false, 'and resumed it');
    const changes = answers.filter(([method]) => method === 'PUT');
    assert.deepEqual(changes, [
      ['PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/pause`, 200],
      ['PUT', `/dashboard/api/queues/${STATIC_QUEUES.precheck}/resume`, 200],
    ]);
  } finally {
    await page.close();
    await queue.close();
  }
});
