import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';

/**
 * `binlog replace` statements run where the replaced event would have: those for a batch of rows
 * inside the transaction that also moves the table's checkpoint. Anything that could end that
 * transaction (or, for a DDL, stay on the connection) is refused when it is given, before
 * anything runs; what is accepted runs exactly once.
 */
const server = dmqForFile({ registerSources: 1 });

interface PausedError {
  ErrCode: string;
  ErrScope: string;
  Message: string;
}

async function pausedOn(code: string): Promise<string> {
  const paused = await waitForStatus(server().addr, 'rep', (s) => s.stage !== 'Running', 60_000);
  assert.equal(paused.stage, 'Paused', JSON.stringify(paused, null, 2));
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]! as unknown as PausedError;
  assert.equal(error.ErrCode, code, error.Message);
  return error.ErrScope;
}

async function targetRows(): Promise<number[][]> {
  const conn = await mysql.createConnection((await getStack()).target);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT id, code FROM rep.t ORDER BY id');
    return rows.map((r) => [Number(r.id), Number(r.code)]);
  } finally {
    await conn.end();
  }
}

async function masterPosition(): Promise<{ file: string; pos: number }> {
  const conn = await mysql.createConnection((await getStack()).upstreams[0]);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
    return { file: String(rows[0]!.File), pos: Number(rows[0]!.Position) };
  } finally {
    await conn.end();
  }
}

/** The API's answer to a replace, as the CLI and any other client get it. */
async function replace(at: string, sqls: string[]): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const res = await fetch(`http://${server().addr}/api/v1/tasks/rep/binlog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ op: 'replace', binlog_pos: at, sqls }),
  });
  return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
}

test('binlog replace refuses statements that could end the batch transaction or stay on the connection; valid ones run once', {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], ['CREATE DATABASE rep', 'CREATE TABLE rep.t (id INT PRIMARY KEY, code INT)']);
  // The target has a unique key the source lacks: a second row with the same code cannot go in.
  await execSql(stack.target, ['CREATE DATABASE rep', 'CREATE TABLE rep.t (id INT PRIMARY KEY, code INT, UNIQUE KEY uc (code))']);
  const from = await masterPosition();
  await execSql(stack.upstreams[0], [
    'INSERT INTO rep.t VALUES (1, 5)',
    'INSERT INTO rep.t VALUES (2, 5)',
    'INSERT INTO rep.t VALUES (3, 6)',
  ]);
  const task = await writeTask({
    name: 'rep',
    mode: 'incremental',
    schema: 'rep',
    instance: [`meta: { binlog-name: "${from.file}", binlog-pos: ${from.pos} }`],
  });
  assert.equal((await runCli(server().addr, ['start-task', task])).code, 0);

  const rows = await pausedOn('APPLY_REJECTED');
  assert.deepEqual(await targetRows(), [[1, 5]]);
  const refusals: [sqls: string[], expected: RegExp][] = [
    [
      ['INSERT INTO rep.t VALUES (2, 50); COMMIT; INSERT INTO rep.t VALUES (90, 90)'],
      /sqls\[0\]: "COMMIT" would end or change the transaction that writes this batch with its checkpoint/,
    ],
    [['INSERT INTO rep.t VALUES (2, 50)', 'SET autocommit = 0'], /sqls\[1\]: "SET autocommit = 0" would end or change the transaction/],
    [['LOCK TABLES rep.t WRITE'], /sqls\[0\]: "LOCK TABLES rep.t WRITE" would end or change the transaction/],
    [['ROLLBACK'], /sqls\[0\]: "ROLLBACK" would end or change the transaction/],
    [['ALTER TABLE rep.t ADD COLUMN x INT'], /is a DDL, which commits the transaction implicitly/],
    [['INSERT INTO rep.t VALUES (2, 50) /*!; COMMIT */'], /has an executable comment/],
  ];
  for (const [sqls, expected] of refusals) {
    const answer = await replace(rows, sqls);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.equal(answer.body.code, 'CONFIG_INVALID');
    assert.match(String(answer.body.message), expected);
  }
  const viaCli = await runCli(server().addr, ['binlog', 'replace', 'rep', '-b', rows, 'INSERT INTO rep.t VALUES (2, 50)', 'COMMIT']);
  assert.equal(viaCli.json.result, false, viaCli.stdout);
  assert.match(String(viaCli.json.msg), /sqls\[1\]: "COMMIT" would end or change the transaction/);
  assert.equal(await pausedOn('APPLY_REJECTED'), rows, 'still paused where it was');
  assert.deepEqual(await targetRows(), [[1, 5]], 'nothing of a refused replace ran');

  // A `;` inside a string does not split a statement; the trailing comment is left out.
  const valid = await replace(rows, [
    "INSERT INTO rep.t VALUES (2, 50), (20, LENGTH('x; COMMIT; y'))",
    'UPDATE rep.t SET code = 51 WHERE id = 2; -- fixed by hand',
  ]);
  assert.equal(valid.status, 200, JSON.stringify(valid.body));
  assert.equal((await waitForCaughtUp(server().addr, 'rep', [stack.upstreams[0]])).stage, 'Running');
  assert.deepEqual(await targetRows(), [
    [1, 5],
    [2, 51],
    [3, 6],
    [20, 12],
  ]);

  // The target has an index named uc already: it rejects the source's.
  await execSql(stack.upstreams[0], ['CREATE INDEX uc ON rep.t (id)', 'INSERT INTO rep.t VALUES (4, 7)']);
  const ddl = await pausedOn('DDL_REJECTED');
  for (const [sqls, expected] of [
    [
      ["SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"],
      /would leave a transaction, lock or session setting on a connection dmq goes on using/,
    ],
    [['CREATE INDEX by_id ON rep.t (id)', 'LOCK TABLES rep.t WRITE'], /sqls\[1\]: "LOCK TABLES rep.t WRITE" would leave a transaction/],
    [["CREATE USER 'intruder'@'%'"], /is CREATE USER, not a change of tables or schemas/],
  ] as [string[], RegExp][]) {
    const answer = await replace(ddl, sqls);
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match(String(answer.body.message), expected);
  }
  const renamed = await replace(ddl, ['CREATE INDEX uc_id ON rep.t (id)']);
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assert.equal((await waitForCaughtUp(server().addr, 'rep', [stack.upstreams[0]])).stage, 'Running');
  const conn = await mysql.createConnection(stack.target);
  try {
    const [indexes] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'rep' AND TABLE_NAME = 't' ORDER BY 1",
    );
    assert.deepEqual(
      indexes.map((r) => String(r.name)),
      ['PRIMARY', 'uc', 'uc_id'],
    );
  } finally {
    await conn.end();
  }
  assert.deepEqual(await targetRows(), [
    [1, 5],
    [2, 51],
    [3, 6],
    [4, 7],
    [20, 12],
  ]);
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'rep'])).code, 0);
});
