import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { API_ROUTES, responseSchema } from '../../src/producers/http/api-spec.js';
import { getStack } from '../harness/stack.js';
import { dmqForFile, waitForStatus } from '../support/dmq.js';
import { execSql, exampleFiles, writeTask } from '../support/fixtures.js';

const server = dmqForFile();

/** Call the API and check the answer against the schema the OpenAPI document gives for it. */
async function call(method: string, route: string, path: string, body?: string | object): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://${server().addr}${path}`, {
    method,
    ...(body === undefined
      ? method === 'POST'
        ? { headers: { 'x-requested-by': 'api-test' } }
        : {}
      : typeof body === 'string'
        ? { body, headers: { 'content-type': 'application/yaml' } }
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.text();
  const parsed: unknown = text === '' ? undefined : JSON.parse(text);
  const schema = responseSchema(method, route, res.status);
  assert.notEqual(schema, undefined, `${method} ${route} answered ${res.status}, which the document does not list: ${text}`);
  if (schema === null) assert.equal(text, '', `${method} ${route} ${res.status} has no body`);
  else {
    const check = schema!.safeParse(parsed);
    assert.ok(check.success, `${method} ${route} ${res.status} does not match its schema: ${JSON.stringify(check.error?.issues)}\n${text}`);
  }
  return { status: res.status, body: parsed };
}

test('every /api/v1 route answers as the OpenAPI document says, errors included', { timeout: 120_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], [
    'CREATE DATABASE IF NOT EXISTS apidb',
    'CREATE TABLE IF NOT EXISTS apidb.t (id INT PRIMARY KEY)',
    'REPLACE INTO apidb.t VALUES (1), (2)',
  ]);
  const files = await exampleFiles();
  const source1 = await readFile(files.sources[0]!, 'utf8');
  const source2 = await readFile(files.sources[1]!, 'utf8');
  const task = await readFile(await writeTask({ name: 'api', mode: 'full', schema: 'apidb' }), 'utf8');
  const seen = new Set<string>();
  const use = async (method: string, route: string, path: string, body?: string | object) => {
    seen.add(`${method.toLowerCase()} ${route}`);
    return call(method, route, path, body);
  };

  assert.equal((await use('POST', '/api/v1/sources', '/api/v1/sources', source1)).status, 201);
  assert.equal((await use('POST', '/api/v1/sources', '/api/v1/sources', source2)).status, 201);
  assert.equal((await use('POST', '/api/v1/sources', '/api/v1/sources', source1)).status, 409, 'a name that exists');
  assert.equal((await use('POST', '/api/v1/sources', '/api/v1/sources', 'source-id: [unclosed')).status, 400, 'bad YAML');
  assert.equal((await use('GET', '/api/v1/sources', '/api/v1/sources')).status, 200);
  assert.equal((await use('GET', '/api/v1/sources/:name', '/api/v1/sources/mysql-replica-01')).status, 200);
  assert.equal((await use('GET', '/api/v1/sources/:name', '/api/v1/sources/nope')).status, 404);
  const status = await use('GET', '/api/v1/sources/:name/status', '/api/v1/sources/mysql-replica-01/status');
  assert.equal((status.body as { connected: boolean }).connected, true);
  const renamed = source2.replace(/source-id: .*/, 'source-id: "mysql-replica-01"');
  assert.equal((await use('PUT', '/api/v1/sources/:name', '/api/v1/sources/mysql-replica-02', source2)).status, 200, 'an update');
  assert.equal((await use('PUT', '/api/v1/sources/:name', '/api/v1/sources/mysql-replica-02', renamed)).status, 400, 'another source-id');
  assert.equal((await use('PUT', '/api/v1/sources/:name', '/api/v1/sources/nope', source2)).status, 404);
  assert.equal((await use('DELETE', '/api/v1/sources/:name', '/api/v1/sources/mysql-replica-02')).status, 204);

  assert.equal((await use('POST', '/api/v1/tasks/check', '/api/v1/tasks/check', task)).status, 200);
  assert.equal((await use('POST', '/api/v1/tasks', '/api/v1/tasks', task)).status, 201);
  assert.equal((await use('POST', '/api/v1/tasks', '/api/v1/tasks', task)).status, 409, 'a task that exists');
  assert.equal((await use('POST', '/api/v1/tasks', '/api/v1/tasks', 'name: x\ntask-mode: sideways\n')).status, 400);
  await waitForStatus(server().addr, 'api', (s) => s.stage !== 'Running', 60_000);
  assert.equal((await use('GET', '/api/v1/tasks', '/api/v1/tasks')).status, 200);
  assert.equal((await use('GET', '/api/v1/tasks/:name', '/api/v1/tasks/api')).status, 200);
  assert.equal((await use('GET', '/api/v1/tasks/:name/status', '/api/v1/tasks/api/status')).status, 200);
  assert.equal((await use('GET', '/api/v1/tasks/:name/status', '/api/v1/tasks/nope/status')).status, 404);
  for (const verb of ['pause', 'stop', 'resume', 'start']) {
    assert.equal((await use('POST', `/api/v1/tasks/:name/${verb}`, `/api/v1/tasks/api/${verb}`)).status, 200, verb);
  }
  const notRejected = await use('POST', '/api/v1/tasks/:name/binlog', '/api/v1/tasks/api/binlog', {
    op: 'skip',
    binlog_pos: 'binlog.000001:4',
  });
  assert.equal(notRejected.status, 400);
  assert.match((notRejected.body as { message: string }).message, /not paused on a binlog event it can skip or replace/);
  const noSql = await use('POST', '/api/v1/tasks/:name/binlog', '/api/v1/tasks/api/binlog', {
    op: 'replace',
    binlog_pos: 'binlog.000001:4',
  });
  assert.equal(noSql.status, 400);
  assert.match((noSql.body as { message: string }).message, /sqls: replace and inject need at least one statement/);
  const operations = await use('GET', '/api/v1/tasks/:name/binlog', '/api/v1/tasks/api/binlog');
  assert.equal(operations.status, 200);
  assert.equal((await use('GET', '/api/v1/tasks/:name/binlog', '/api/v1/tasks/nope/binlog')).status, 404);
  assert.equal((await use('GET', '/api/v1/tasks/:name/diff', '/api/v1/tasks/api/diff')).status, 404, 'no diff has run');
  assert.equal((await use('POST', '/api/v1/tasks/:name/diff', '/api/v1/tasks/api/diff')).status, 200);
  const deadline = Date.now() + 60_000;
  let report = await use('GET', '/api/v1/tasks/:name/diff', '/api/v1/tasks/api/diff');
  while ((report.body as { state: string }).state === 'running' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    report = await use('GET', '/api/v1/tasks/:name/diff', '/api/v1/tasks/api/diff');
  }
  assert.deepEqual(
    (report.body as { state: string; tables: { table: string; outcome: string }[] }).tables.map((t) => [t.table, t.outcome]),
    [['`apidb`.`t`', 'equal']],
    JSON.stringify(report.body),
  );
  const fix = await use('GET', '/api/v1/tasks/:name/diff/fix-sql', '/api/v1/tasks/api/diff/fix-sql');
  assert.doesNotMatch((fix.body as { sql: string }).sql, /^(REPLACE|DELETE|INSERT)/m, 'nothing to fix');
  const locks = await use('GET', '/api/v1/tasks/:name/shard-ddl-locks', '/api/v1/tasks/api/shard-ddl-locks');
  assert.deepEqual(locks, { status: 200, body: { result: true, msg: '', locks: [] } });
  assert.equal((await use('GET', '/api/v1/tasks/:name/shard-ddl-locks', '/api/v1/tasks/nope/shard-ddl-locks')).status, 404);
  const noLock = await use('POST', '/api/v1/tasks/:name/shard-ddl-locks/unlock', '/api/v1/tasks/api/shard-ddl-locks/unlock', {
    lock_id: 'api-`apidb`.`t`',
  });
  assert.equal(noLock.status, 400);
  assert.match((noLock.body as { message: string }).message, /has no unresolved shard DDL lock "api-`apidb`.`t`"/);
  const noId = await use('POST', '/api/v1/tasks/:name/shard-ddl-locks/unlock', '/api/v1/tasks/api/shard-ddl-locks/unlock', {});
  assert.equal(noId.status, 400);
  assert.match((noId.body as { where: string }).where, /lock_id/);
  const v = '/api/v1/tasks/:name/validation';
  const stopUnstarted = await use('POST', `${v}/stop`, '/api/v1/tasks/api/validation/stop', {});
  assert.equal(stopUnstarted.status, 400);
  assert.match((stopUnstarted.body as { message: string }).message, /was never started/);
  assert.equal((await use('POST', `${v}/start`, '/api/v1/tasks/api/validation/start', { mode: 'fast' })).status, 200);
  assert.equal((await use('POST', `${v}/start`, '/api/v1/tasks/api/validation/start', { sources: ['nope'] })).status, 404);
  assert.equal((await use('POST', `${v}/stop`, '/api/v1/tasks/api/validation/stop', {})).status, 200);
  const validators = await use('GET', `${v}/status`, '/api/v1/tasks/api/validation/status');
  assert.deepEqual(
    (validators.body as { validators: { mode: string; stage: string }[] }).validators.map((x) => [x.mode, x.stage]),
    [['fast', 'Stopped']],
  );
  assert.deepEqual((await use('GET', `${v}/errors`, '/api/v1/tasks/api/validation/errors?error=all')).body, {
    result: true,
    msg: '',
    error: [],
  });
  assert.equal((await use('GET', `${v}/errors`, '/api/v1/tasks/api/validation/errors?error=some')).status, 400);
  assert.equal((await use('POST', `${v}/errors`, '/api/v1/tasks/api/validation/errors', { op: 'clear', all: true })).status, 200);
  const noError = await use('POST', `${v}/errors`, '/api/v1/tasks/api/validation/errors', { op: 'ignore', id: 7 });
  assert.equal(noError.status, 400);
  assert.match((noError.body as { message: string }).message, /has no validation error 7/);
  const schemas = '/api/v1/tasks/:name/sources/:source/schemas';
  const mine = '/api/v1/tasks/api/sources/mysql-replica-01/schemas';
  assert.deepEqual(await use('GET', schemas, mine), { status: 200, body: ['apidb'] });
  assert.equal((await use('GET', schemas, '/api/v1/tasks/api/sources/nope/schemas')).status, 404);
  assert.deepEqual(await use('GET', `${schemas}/:schema`, `${mine}/apidb`), { status: 200, body: ['t'] });
  const tracked = await use('GET', `${schemas}/:schema/:table`, `${mine}/apidb/t`);
  assert.match(
    (tracked.body as { schema_create_sql: string }).schema_create_sql,
    /^CREATE TABLE `apidb`\.`t` \(\n {2}`id` int(\(11\))?,\n {2}PRIMARY KEY \(`id`\)/,
  );
  assert.equal((await use('GET', `${schemas}/:schema/:table`, `${mine}/apidb/nope`)).status, 404);
  const notPaused = await use('PUT', `${schemas}/:schema/:table`, `${mine}/apidb/t`, { from_source: true });
  assert.equal(notPaused.status, 400);
  assert.match((notPaused.body as { message: string }).message, /binlog-schema update changes a paused task only/);
  const neither = await use('PUT', `${schemas}/:schema/:table`, `${mine}/apidb/t`, { flush: true });
  assert.equal(neither.status, 400);
  assert.match((neither.body as { message: string }).message, /either a CREATE TABLE statement or from_source: true/);
  const notDeleted = await use('DELETE', `${schemas}/:schema/:table`, `${mine}/apidb/t`);
  assert.equal(notDeleted.status, 400);
  assert.match((notDeleted.body as { message: string }).message, /binlog-schema delete changes a paused task only/);
  assert.equal((await use('DELETE', `${schemas}/:schema/:table`, `${mine}/apidb/nope`)).status, 404);
  assert.equal((await use('DELETE', '/api/v1/tasks/:name', '/api/v1/tasks/api?remove_meta=true')).status, 200);
  assert.equal((await use('DELETE', '/api/v1/tasks/:name', '/api/v1/tasks/api')).status, 404);
  assert.equal((await use('DELETE', '/api/v1/sources/:name', '/api/v1/sources/mysql-replica-01')).status, 204);

  assert.deepEqual([...seen].sort(), API_ROUTES.map((r) => `${r.method} ${r.path}`).sort(), 'every documented route was called');

  const page = await fetch(`http://${server().addr}/api/v1/docs`);
  assert.equal(page.status, 200);
  const html = await page.text();
  for (const r of API_ROUTES) assert.ok(html.includes(r.path.replace(/:(\w+)/g, '{$1}')), `the docs page shows ${r.path}`);
});
