import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import type { Endpoint } from '../harness/servers.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus } from '../support/dmq.js';
import { execSql, masterPosition, writeTask } from '../support/fixtures.js';

/**
 * `binlog inject|list|revert` as in DM: statements before the event the task paused on, DDL
 * injected before statements ahead of the reader, the operations not applied yet listed per
 * source, and one taken back before it was applied.
 */
const server = dmqForFile({ registerSources: 1 });

/** Where the statement containing `text` ends in the binlog: dmq's coordinate of it. */
async function statementEnd(up: Endpoint, text: string): Promise<string> {
  const conn = await mysql.createConnection(up);
  try {
    const { file } = await masterPosition(up);
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW BINLOG EVENTS IN ?', [file]);
    const event = rows.find((r) => String(r.Info).includes(text));
    assert.ok(event, `no event with ${text} in ${file}`);
    return `${file}:${event.End_log_pos}`;
  } finally {
    await conn.end();
  }
}

interface Listed {
  sources: { msg: string; source: string; operations: { binlogPos: string; op: string; stage: string }[] }[];
}

test('binlog inject before a rejected batch and before DDL ahead; list shows what waits, revert takes one back', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  const up = stack.upstreams[0];
  await execSql(up, ['CREATE DATABASE bo', 'CREATE TABLE bo.t (id INT PRIMARY KEY, v INT)']);
  // A stray row on the target that the source's second insert collides with.
  await execSql(stack.target, ['CREATE DATABASE bo', 'CREATE TABLE bo.t (id INT PRIMARY KEY, v INT)', 'INSERT INTO bo.t VALUES (2, 999)']);
  const from = await masterPosition(up);
  await execSql(up, ['INSERT INTO bo.t VALUES (1, 10)', 'INSERT INTO bo.t VALUES (2, 20)']);
  const task = await writeTask({
    name: 'bo',
    mode: 'incremental',
    schema: 'bo',
    instance: [`meta: { binlog-name: "${from.file}", binlog-pos: ${from.pos} }`],
  });
  assert.equal((await runCli(server().addr, ['start-task', task])).code, 0);
  const paused = await waitForStatus(server().addr, 'bo', (s) => s.stage !== 'Running', 60_000);
  assert.equal(paused.stage, 'Paused');
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]! as unknown as { ErrCode: string };
  assert.equal(error.ErrCode, 'APPLY_REJECTED');

  const empty = (await runCli(server().addr, ['binlog', 'list', 'bo'])).json as unknown as Listed;
  assert.deepEqual(
    empty.sources.map((s) => [s.source, s.msg]),
    [['mysql-replica-01', '[]']],
  );
  // No -b: at the position the task paused on, inside the batch's transaction, then resume.
  const fixed = await runCli(server().addr, ['binlog', 'inject', 'bo', 'DELETE FROM bo.t WHERE id = 2']);
  assert.equal(fixed.json.result, true, fixed.stdout);
  assert.equal((await waitForCaughtUp(server().addr, 'bo', [up])).stage, 'Running');
  assert.deepEqual(await queryRows(stack.target, 'SELECT id, v FROM bo.t'), ['["1","10"]', '["2","20"]']);

  // Statements ahead of the reader: written while the task is paused.
  assert.equal((await runCli(server().addr, ['pause-task', 'bo'])).code, 0);
  await execSql(up, [
    'ALTER TABLE bo.t ADD COLUMN note VARCHAR(10)',
    "INSERT INTO bo.t VALUES (3, 30, 'x')",
    'ALTER TABLE bo.t ADD COLUMN extra INT',
    "INSERT INTO bo.t VALUES (4, 40, 'y', 4)",
  ]);
  const noteAt = await statementEnd(up, 'ADD COLUMN note');
  const extraAt = await statementEnd(up, 'ADD COLUMN extra');
  for (const [at, sql] of [
    [noteAt, 'ALTER TABLE bo.t ADD INDEX iv (v)'],
    [extraAt, 'ALTER TABLE bo.t ADD INDEX ie (id, v)'],
  ] as const) {
    const injected = await runCli(server().addr, ['binlog', 'inject', 'bo', '-b', at, sql]);
    assert.equal(injected.json.result, true, injected.stdout);
  }
  const both = (await runCli(server().addr, ['binlog', 'list', 'bo'])).json as unknown as Listed;
  assert.deepEqual(JSON.parse(both.sources[0]!.msg), [
    { op: 4, task: 'bo', binlogPos: noteAt, sqls: ['ALTER TABLE bo.t ADD INDEX iv (v)'] },
    { op: 4, task: 'bo', binlogPos: extraAt, sqls: ['ALTER TABLE bo.t ADD INDEX ie (id, v)'] },
  ]);
  const after = (await runCli(server().addr, ['binlog', 'list', 'bo', '-b', extraAt])).json as unknown as Listed;
  assert.deepEqual(
    after.sources[0]!.operations.map((o) => [o.binlogPos, o.op, o.stage]),
    [[extraAt, 'inject', 'read']],
  );
  assert.equal((await runCli(server().addr, ['binlog', 'revert', 'bo', '-b', extraAt])).json.result, true);
  const again = await runCli(server().addr, ['binlog', 'revert', 'bo', '-b', extraAt]);
  assert.equal(again.json.result, false);
  assert.match(String(again.json.msg), new RegExp(`task "bo" has no binlog operation at ${extraAt} that is not applied yet`));

  assert.equal((await runCli(server().addr, ['resume-task', 'bo'])).code, 0);
  assert.equal((await waitForCaughtUp(server().addr, 'bo', [up])).stage, 'Running');
  const { expected, actual } = await compareMerged([{ server: up, schema: 'bo', table: 't' }], {
    server: stack.target,
    schema: 'bo',
    table: 't',
  });
  assert.deepEqual(actual, expected);
  assert.equal(expected.length, 4);
  const indexes = await queryRows(
    stack.target,
    "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'bo' AND TABLE_NAME = 't'",
  );
  assert.deepEqual(indexes, ['["PRIMARY"]', '["iv"]'], 'the injected index is there, the reverted one is not');
  const applied = (await runCli(server().addr, ['binlog', 'list', 'bo'])).json as unknown as Listed;
  assert.equal(applied.sources[0]!.msg, '[]', 'applied operations are not listed');
  const late = await runCli(server().addr, ['binlog', 'revert', 'bo', '-b', noteAt]);
  assert.equal(late.json.result, false, 'an applied operation cannot be reverted');
});
