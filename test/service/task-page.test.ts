import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { getStack, resetDatabases } from '../harness/stack.js';
import { runCli, startDmq, waitForStatus, type DmqServer } from '../support/dmq.js';
import { execSql, exampleFiles, writeTask } from '../support/fixtures.js';

const TOKEN = 'page-token-5d2e77';
let dmq: DmqServer;
let browser: Browser;

before(async () => {
  await resetDatabases();
  dmq = await startDmq({ env: { DMQ_TOKEN: TOKEN } });
  // Debian's Chromium (scripts/install-deps.sh --browser); root needs --no-sandbox.
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await dmq?.stop();
});

test("the task page shows each task's sources, copy progress and live lag in a real browser", { timeout: 180_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE page',
    'CREATE TABLE page.items (id INT PRIMARY KEY, v VARCHAR(40))',
    "INSERT INTO page.items SELECT seq, CONCAT('item ', seq) FROM page.seq_1_to_20000",
  ]);
  const files = await exampleFiles();
  assert.equal((await runCli(dmq.addr, ['--token', TOKEN, 'operate-source', 'create', files.sources[0]!])).code, 0);
  const taskFile = await writeTask({ name: 'page', mode: 'all', schema: 'page', instance: ['mydumper: { rows: 2000 }'] });
  assert.equal((await runCli(dmq.addr, ['--token', TOKEN, 'start-task', taskFile])).code, 0);

  const denied = await fetch(`http://${dmq.addr}/tasks`);
  assert.equal(denied.status, 401, 'the page wants the token');
  assert.match(denied.headers.get('www-authenticate') ?? '', /^Basic/, 'and asks a browser for it');

  const context = await browser.newContext({
    httpCredentials: { username: 'ops', password: TOKEN },
    viewport: { width: 1100, height: 520 },
  });
  const page = await context.newPage();
  await page.goto(`http://${dmq.addr}/`);
  assert.ok(page.url().endsWith('/tasks'), 'the root leads to the task page');
  const task = page.locator('[data-task="page"]');
  await task.waitFor({ timeout: 30_000 });
  // The copy finishes and replication catches up; the page follows by itself.
  await page.waitForFunction(
    'document.querySelector(\'[data-task="page"] [data-unit="sync"]\')?.textContent?.includes("synced")',
    undefined,
    { timeout: 120_000 },
  );
  await execSql(stack.upstreams[0], ["UPDATE page.items SET v = 'seen live' WHERE id <= 100"]);
  await waitForStatus(
    dmq.addr,
    'page',
    (s) => (s.sources[0]!.subTaskStatus[0]!.sync?.totalEvents ?? 0) > 0 && s.sources[0]!.subTaskStatus[0]!.sync?.synced === true,
    60_000,
    TOKEN,
  );
  // Two refreshes of the page (every 2 s) after the change.
  await page.waitForTimeout(4500);

  assert.match(await task.locator('h2').innerText(), /page\s*Running/);
  assert.match(await task.locator('[data-source="mysql-replica-01"]').innerText(), /Running · Sync/);
  const load = await task.locator('[data-unit="load"]').innerText();
  assert.match(load, /100\.0 %\s+10\/10 chunks · 20,000 rows/);
  assert.match(await task.locator('[data-unit="dump"]').innerText(), /100\.0 %\s+10\/10 chunks/);
  assert.match(await task.locator('[data-unit="sync"]').innerText(), /synced · lag 0 s/);
  const points = await task.locator('[data-unit="sync"] svg polyline').getAttribute('points');
  assert.ok((points ?? '').split(' ').length >= 2, 'the lag chart has samples');

  const shot = join(tmpdir(), 'dmq-task-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok((await stat(shot)).size > 10_000, `a screenshot of the page at ${shot}`);
  await context.close();
});
