import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mysql from 'mysql2/promise';
import { getStack } from '../harness/stack.js';
import type { Endpoint } from '../harness/servers.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus } from '../support/dmq.js';
import { execSql, writeTask } from '../support/fixtures.js';
import { quoteId } from '../../src/shared/sql/quote.js';

/**
 * dmq writes values into SQL text with backslash escapes (chunk files, the driver's parameters on
 * multi-statement connections). That is safe only while the sessions read them so: dmq owns
 * sql_mode and the client character set, whatever the operator's session settings or the
 * servers' global sql_mode say. The values below are built to end their literal early under
 * any other reading; they must arrive byte for byte and nothing else may run on the target.
 */
const server = dmqForFile({ registerSources: 1 });

const PAYLOADS = [
  "x\\'); DROP TABLE canary.t; --",
  "x'); DROP TABLE canary.t; -- ",
  "\\'; DROP TABLE canary.t; #",
  "\\\\'; DROP TABLE canary.t; /*",
  '\\',
  '\\\\',
  "'",
  "''",
  '"',
  '`; DROP TABLE canary.t; `',
  'nul\u0000byte',
  'ctrl-z\u001aend',
  'lines\n\r\tend',
  "back\\nslash\\0\\Z\\'",
  '%_\\%\\_',
  '😀 𝌆 emoji',
  // GBK / Shift-JIS characters whose second byte is 0x5C, the backslash.
  "縗表ソ能'",
  '\u202eright-to-left',
  '',
];

/** A key that stays unique under a case- and trailing-space-insensitive collation. */
const keyOf = (i: number, payload: string) => `${String(i).padStart(3, '0')}:${payload}`.slice(0, 60);

/** The schema's name is built to end a literal too: dmq's own queries pass it as a parameter. */
const SCHEMA = "esc'\\";
const DANGEROUS_MODES = 'NO_BACKSLASH_ESCAPES,ANSI_QUOTES';
const globalModes = new Map<Endpoint, string>();

async function globalSqlMode(endpoint: Endpoint): Promise<string> {
  const conn = await mysql.createConnection(endpoint);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.sql_mode AS mode');
    return String(rows[0]!.mode);
  } finally {
    await conn.end();
  }
}

async function setGlobalSqlMode(endpoint: Endpoint, mode: string): Promise<void> {
  const conn = await mysql.createConnection(endpoint);
  try {
    await conn.execute('SET GLOBAL sql_mode = ?', [mode]);
  } finally {
    await conn.end();
  }
}

before(async () => {
  const stack = await getStack();
  for (const endpoint of [stack.upstreams[0], stack.target]) globalModes.set(endpoint, await globalSqlMode(endpoint));
});

after(async () => {
  for (const [endpoint, mode] of globalModes) await setGlobalSqlMode(endpoint, mode);
});

/**
 * Writes through server-side prepared statements: the values travel apart from the SQL text, so
 * the test's own writes do not depend on the sql_mode it sets on the servers.
 */
type Write = [sql: string, values: (string | number | Buffer | null)[]];

async function writeRows(endpoint: Endpoint, statements: Write[]): Promise<void> {
  const conn = await mysql.createConnection(endpoint);
  try {
    for (const [sql, values] of statements) await conn.execute(sql, values);
  } finally {
    await conn.end();
  }
}

test('a task whose target session would change how dmq escapes values is refused at submit, naming the variable', async () => {
  const refusals: [session: string, expected: RegExp][] = [
    [
      "{ sql_mode: 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES' }",
      /target-database\.session\.sql_mode: NO_BACKSLASH_ESCAPES is not allowed: dmq escapes values with backslashes/,
    ],
    ["{ sql_mode: 'ANSI' }", /target-database\.session\.sql_mode: ANSI \(which includes ANSI_QUOTES\) is not allowed/],
    ['{ character_set_client: gbk }', /target-database\.session\.character_set_client: dmq sends and reads text as utf8mb4/],
  ];
  for (const [session, expected] of refusals) {
    const task = await writeTask({ name: 'escaping-refused', mode: 'all', schema: 'esc', target: `session: ${session}` });
    const refused = await runCli(server().addr, ['start-task', task]);
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.equal(refused.json.code, 'CONFIG_INVALID', refused.stdout);
    assert.match(String(refused.json.msg), expected);
  }
  const listed = (await (await fetch(`http://${server().addr}/api/v1/tasks`)).json()) as { total: number };
  assert.equal(listed.total, 0, 'no refused task was registered');
});

test("strings built to escape their literal copy and replicate byte for byte, with NO_BACKSLASH_ESCAPES and ANSI_QUOTES in both servers' global sql_mode", {
  timeout: 240_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(stack.target, ['CREATE DATABASE canary', 'CREATE TABLE canary.t (id INT PRIMARY KEY)', 'INSERT INTO canary.t VALUES (1)']);
  const table = `${quoteId(SCHEMA)}.vals`;
  await execSql(upstream, [
    `CREATE DATABASE ${quoteId(SCHEMA)}`,
    // A string primary key: with 4 rows per chunk, the keyset boundaries are these values too.
    `CREATE TABLE ${table} (k VARCHAR(64) CHARACTER SET utf8mb4 PRIMARY KEY, v TEXT CHARACTER SET utf8mb4, b VARBINARY(200), n INT)`,
  ]);
  await writeRows(
    upstream,
    PAYLOADS.map((payload, i) => [
      `INSERT INTO ${table} VALUES (?, ?, ?, ?)`,
      [keyOf(i, payload), payload, Buffer.from(payload, 'utf8'), i],
    ]),
  );
  for (const endpoint of [upstream, stack.target]) await setGlobalSqlMode(endpoint, DANGEROUS_MODES);

  const task = await writeTask({ name: 'escaping', mode: 'all', schema: SCHEMA, instance: ['mydumper: { rows: 4 }'] });
  const started = await runCli(server().addr, ['start-task', task]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  const copied = await waitForStatus(
    server().addr,
    'escaping',
    (s) => s.stage !== 'Running' || s.sources[0]!.subTaskStatus[0]!.unit === 'Sync',
    120_000,
  );
  assert.equal(copied.stage, 'Running', JSON.stringify(copied, null, 2));

  const later = PAYLOADS.length;
  await writeRows(upstream, [
    ...PAYLOADS.map(
      (payload, i): Write => [
        `INSERT INTO ${table} VALUES (?, ?, ?, ?)`,
        [keyOf(later + i, payload), payload, Buffer.from(payload, 'utf8'), later + i],
      ],
    ),
    ...PAYLOADS.map(
      (payload, i): Write => [
        `UPDATE ${table} SET v = ?, b = ? WHERE k = ?`,
        [PAYLOADS[(i + 1) % PAYLOADS.length]!, Buffer.from(`${payload}\u0000\\`, 'utf8'), keyOf(i, payload)],
      ],
    ),
    [`UPDATE ${table} SET k = ? WHERE k = ?`, [keyOf(999, PAYLOADS[0]!), keyOf(1, PAYLOADS[1]!)]],
    [`DELETE FROM ${table} WHERE k = ?`, [keyOf(2, PAYLOADS[2]!)]],
    [`DELETE FROM ${table} WHERE k = ?`, [keyOf(later + 3, PAYLOADS[3]!)]],
  ]);
  const synced = await waitForCaughtUp(server().addr, 'escaping', [upstream]);
  assert.equal(synced.stage, 'Running', JSON.stringify(synced, null, 2));
  // The comparison's own queries escape with backslashes too.
  for (const [endpoint, mode] of globalModes) await setGlobalSqlMode(endpoint, mode);

  const { expected, actual } = await compareMerged([{ server: upstream, schema: SCHEMA, table: 'vals' }], {
    server: stack.target,
    schema: SCHEMA,
    table: 'vals',
  });
  assert.equal(actual.length, 2 * PAYLOADS.length - 2);
  assert.deepEqual(actual, expected);
  assert.deepEqual(await queryRows(stack.target, 'SELECT id FROM canary.t'), ['["1"]'], 'the canary table is untouched');
  assert.deepEqual(
    await queryRows(
      stack.target,
      `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('canary', ${mysql.escape(SCHEMA)})`,
    ),
    [JSON.stringify(['canary', 't']), JSON.stringify([SCHEMA, 'vals'])].sort(),
    'no other table appeared',
  );
  assert.equal((await runCli(server().addr, ['stop-task', '--remove-meta', 'escaping'])).code, 0);
});
