import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dmqForFile, runCli, startDmq } from '../support/dmq.js';

const TOKEN = 'test-token-3f9a1c';
const server = dmqForFile({ env: { DMQ_TOKEN: TOKEN } });

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://${server().addr}${path}`, { headers });
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
