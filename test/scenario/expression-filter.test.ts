import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Endpoint } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';
import { compareMerged, queryRows } from '../support/compare.js';
import { dmqForFile, runCli, waitForCaughtUp, waitForStatus, type TaskStatus } from '../support/dmq.js';
import { exampleFiles, execSql, writeTask } from '../support/fixtures.js';

/**
 * DM's expression filters (its dm/tests/expression_filter case, as dmq's own data), in the copy
 * and in sync, and source-level binlog event filters. What the target must hold is worked out
 * on the source with the same expressions in SQL, never by dmq's evaluator: kept rows are those
 * no expression matches (`NOT ((expr) <=> 1)`), and for updates and deletes a twin table in a
 * schema the task does not migrate takes each change only when no filter leaves it out.
 */

const dmq = dmqForFile({ registerSources: 1 });

const synced = (s: TaskStatus) =>
  s.sources.every((src) => src.subTaskStatus[0]!.unit === 'Sync' && src.subTaskStatus[0]!.sync?.synced === true);

/** start-task, then wait until the copy is in and replication has caught up. */
async function startSynced(task: string, file: string): Promise<string> {
  const addr = dmq().addr;
  const started = await runCli(addr, ['start-task', file]);
  assert.equal(started.code, 0, started.stdout);
  const status = await waitForStatus(addr, task, (s) => s.stage !== 'Running' || synced(s), 240_000);
  assert.equal(status.stage, 'Running', JSON.stringify(status));
  return addr;
}

/** One insert-value-expr per column type, as DM's own test has them (MariaDB and TiDB both read these). */
const TYPE_FILTERS: Record<string, string> = {
  c_null: 'c_null IS NOT NULL',
  bit: "c_bit = b'1111'",
  tinyint: 'c_tinyint >= 25',
  smallint: 'c_smallint >= 25',
  mediumint: 'c_mediumint >= 25',
  int: 'c_int >= 25',
  bigint: 'c_bigint >= 25',
  decimal: 'c_decimal >= 25',
  float: 'c_float >= 25',
  double: 'c_double >= 25',
  date: "c_date = '2021-06-22'",
  datetime: "c_datetime = '2021-01-01 12:34:56.789'",
  // DM's test writes '…12:34:56.5678+08:00'; MariaDB reads no zone offset, and the task runs in +08:00.
  timestamp: "c_timestamp = '2021-01-01 12:34:56.5678'",
  time: "c_time = '-838:58:50.12345'",
  year: "c_year = '2021'",
  char: "c_char = '2234'",
  varchar: "c_varchar = '4234'",
  binary: "c_binary = 'b'",
  varbinary: "c_varbinary = 'd'",
  tinyblob: "c_tinyblob = 'b'",
  tinytext: "c_tinytext = 'd'",
  blob: "c_blob = 'asdf'",
  text: "c_text = 'asd'",
  mediumblob: "c_mediumblob = 'asdf'",
  mediumtext: "c_mediumtext = 'asdf'",
  longblob: "c_longblob = 'asdf'",
  longtext: "c_longtext = 'asdf'",
  enum: "c_enum = 'b'",
  set: "c_set = 'b,c'",
  // DM's `c_json->"$.id" = 2`: MariaDB has no -> operator.
  json: "JSON_EXTRACT(c_json, '$.id') = 2",
};

const TYPES_TABLE = `CREATE TABLE ef.t1 (
  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, should_skip INT, c_null INT,
  c_bit BIT(8), c_tinyint TINYINT(5) UNSIGNED, c_smallint SMALLINT(6), c_mediumint MEDIUMINT(7), c_int INT(8),
  c_bigint BIGINT(9) UNSIGNED, c_decimal DECIMAL(7,2), c_float FLOAT(10), c_double DOUBLE,
  c_date DATE, c_datetime DATETIME(3), c_timestamp TIMESTAMP(4) NULL DEFAULT NULL, c_time TIME(5), c_year YEAR,
  c_char CHAR(4), c_varchar NATIONAL VARCHAR(255), c_binary BINARY(1), c_varbinary VARBINARY(4),
  c_tinyblob TINYBLOB, c_tinytext TINYTEXT, c_blob BLOB(20), c_text TEXT(10), c_mediumblob MEDIUMBLOB,
  c_mediumtext MEDIUMTEXT, c_longblob LONGBLOB, c_longtext LONGTEXT, c_enum ENUM('a', 'b', 'c'), c_set SET('a', 'b', 'c'),
  c_json JSON
)`;

/** DM's increment data: a row to keep and a row each filter leaves out, per column type. */
const TYPE_ROWS = [
  'INSERT INTO ef.t1 (should_skip, c_null) VALUES (0, NULL), (1, 123)',
  "INSERT INTO ef.t1 (should_skip, c_bit) VALUES (0, b'1010'), (1, b'1111')",
  'INSERT INTO ef.t1 (should_skip, c_tinyint) VALUES (0, 5), (1, 25)',
  'INSERT INTO ef.t1 (should_skip, c_smallint) VALUES (0, 6), (1, 26)',
  'INSERT INTO ef.t1 (should_skip, c_mediumint) VALUES (0, 7), (1, 27)',
  'INSERT INTO ef.t1 (should_skip, c_int) VALUES (0, 8), (1, 28)',
  'INSERT INTO ef.t1 (should_skip, c_bigint) VALUES (0, 9), (1, 29)',
  'INSERT INTO ef.t1 (should_skip, c_decimal) VALUES (0, 10.01), (1, 30.02)',
  'INSERT INTO ef.t1 (should_skip, c_float) VALUES (0, 11.12), (1, 31.324)',
  'INSERT INTO ef.t1 (should_skip, c_double) VALUES (0, 12.32), (1, 32.4334)',
  "INSERT INTO ef.t1 (should_skip, c_date) VALUES (0, '1995-03-07'), (1, '2021-06-22')",
  "INSERT INTO ef.t1 (should_skip, c_datetime) VALUES (0, '1000-01-01 12:34:56.789'), (1, '2021-01-01 12:34:56.789')",
  "SET time_zone = '+08:00'",
  "INSERT INTO ef.t1 (should_skip, c_timestamp) VALUES (0, '2020-01-01 12:34:56.1234'), (1, '2021-01-01 12:34:56.5678')",
  "SET time_zone = '+00:00'",
  "INSERT INTO ef.t1 (should_skip, c_time) VALUES (0, '-838:59:50.12345'), (1, '-838:58:50.12345')",
  'INSERT INTO ef.t1 (should_skip, c_year) VALUES (0, 2020), (1, 2021)',
  "INSERT INTO ef.t1 (should_skip, c_char) VALUES (0, '1234'), (1, '2234')",
  "INSERT INTO ef.t1 (should_skip, c_varchar) VALUES (0, '3234'), (1, '4234')",
  "INSERT INTO ef.t1 (should_skip, c_binary) VALUES (0, 'a'), (1, 'b')",
  "INSERT INTO ef.t1 (should_skip, c_varbinary) VALUES (0, 'c'), (1, 'd')",
  "INSERT INTO ef.t1 (should_skip, c_tinyblob) VALUES (0, 'a'), (1, 'b')",
  "INSERT INTO ef.t1 (should_skip, c_tinytext) VALUES (0, 'c'), (1, 'd')",
  "INSERT INTO ef.t1 (should_skip, c_blob) VALUES (0, 'qwer'), (1, 'asdf')",
  "INSERT INTO ef.t1 (should_skip, c_text) VALUES (0, 'qwe'), (1, 'asd')",
  "INSERT INTO ef.t1 (should_skip, c_mediumblob) VALUES (0, 'qwer'), (1, 'asdf')",
  "INSERT INTO ef.t1 (should_skip, c_mediumtext) VALUES (0, 'qwer'), (1, 'asdf')",
  "INSERT INTO ef.t1 (should_skip, c_longblob) VALUES (0, 'qwer'), (1, 'asdf')",
  "INSERT INTO ef.t1 (should_skip, c_longtext) VALUES (0, 'qwer'), (1, 'asdf')",
  "INSERT INTO ef.t1 (should_skip, c_enum) VALUES (0, 'a'), (1, 'b')",
  "INSERT INTO ef.t1 (should_skip, c_set) VALUES (0, 'a'), (1, 'b,c')",
  `INSERT INTO ef.t1 (should_skip, c_json) VALUES (0, '{"id": 1}'), (1, '{"id": 2}')`,
  // Values at the edges of their types, in every column at once: kept, and copied exactly.
  `INSERT INTO ef.t1 (should_skip, c_null, c_bit, c_tinyint, c_smallint, c_mediumint, c_int, c_bigint, c_decimal, c_float, c_double,
     c_date, c_datetime, c_timestamp, c_time, c_year, c_char, c_varchar, c_binary, c_varbinary, c_tinyblob, c_tinytext, c_blob,
     c_text, c_mediumblob, c_mediumtext, c_longblob, c_longtext, c_enum, c_set, c_json)
   VALUES (0, NULL, b'11110000', 0, -32768, -8388608, -2147483648, 0, -99999.99, -3.40282e38, -1.7976931348623157e308,
     '1000-01-01', '9999-12-31 23:59:59.999', '1970-01-01 00:00:01.0001', '838:59:59.00000', 1901, 'it''s', 'Grüße \\\\ ''q''',
     X'00', X'00ff27', X'0a', 'ž', X'5c27', '日本', X'', '', X'ff', 'x''y 😀', 'c', 'a,c', '{"id": 1.5, "s": "2"}')`,
];

/**
 * Each column's value at the edge of its type, named exactly by an expression: the row holding
 * it must be left out and a row with a value next to it kept. A literal that lost a digit, a
 * byte or a fraction, or shifted a TIMESTAMP, would keep the first row too.
 * [column, value left out, value kept, expression]
 */
const EDGES: [string, string, string, string][] = [
  ['c_bit', "b'11110000'", "b'11110001'", "c_bit = b'11110000'"],
  ['c_tinyint', '255', '254', 'c_tinyint = 255'],
  ['c_smallint', '-32768', '-32767', 'c_smallint = -32768'],
  ['c_mediumint', '-8388608', '8388607', 'c_mediumint = -8388608'],
  ['c_int', '-2147483648', '-2147483647', 'c_int = -2147483648'],
  ['c_bigint', '18446744073709551615', '18446744073709551614', 'c_bigint = 18446744073709551615'],
  ['c_decimal', '-99999.99', '-99999.98', 'c_decimal = -99999.99'],
  ['c_float', '3.4028234663852886e38', '-3.4028234663852886e38', 'c_float = 3.4028234663852886e38'],
  ['c_double', '1.7976931348623157e308', '1.7976931348623155e308', 'c_double = 1.7976931348623157e308'],
  ['c_date', "'9999-12-31'", "'9999-12-30'", "c_date = '9999-12-31'"],
  ['c_datetime', "'9999-12-31 23:59:59.999'", "'9999-12-31 23:59:59.998'", "c_datetime = '9999-12-31 23:59:59.999'"],
  // Written in UTC; the task's sessions read it in +08:00.
  ['c_timestamp', "'2038-01-19 03:14:07.9999'", "'2038-01-19 03:14:07.9998'", "c_timestamp = '2038-01-19 11:14:07.9999'"],
  ['c_time', "'-01:00:00'", "'-01:00:01'", "c_time = '-01:00:00'"],
  ['c_year', '1901', '1902', 'c_year = 1901'],
  ['c_char', "'it''s'", "'its'", "c_char = 'it''s'"],
  ['c_varchar', "'Grüße \\\\ ''q'''", "'Grüße'", "c_varchar = 'Grüße \\\\ ''q'''"],
  ['c_binary', "X'00'", "X'01'", "c_binary = X'00'"],
  ['c_varbinary', "X'00ff27'", "X'00ff28'", "c_varbinary = X'00ff27'"],
  ['c_tinyblob', "X'0a'", "X'0d'", "c_tinyblob = X'0a'"],
  ['c_tinytext', "'ž'", "'y'", "c_tinytext = 'ž'"],
  ['c_blob', "X'5c27'", "X'5c'", "c_blob = X'5c27'"],
  ['c_text', "'日本'", "'日'", "c_text = '日本'"],
  ['c_mediumblob', "X''", "X'00'", "c_mediumblob = X''"],
  ['c_mediumtext', "''", "'x'", "c_mediumtext = ''"],
  ['c_longblob', "X'ff'", "X'fe'", "c_longblob = X'ff'"],
  ['c_longtext', "'x''y 😀'", "'x''y'", "c_longtext = 'x''y 😀'"],
  ['c_enum', "'c'", "'a'", "c_enum = 'c'"],
  ['c_set', "'a,c'", "'a'", "c_set = 'a,c'"],
  ['c_json', `'{"id": 1.5}'`, `'{"id": 1.25}'`, "JSON_EXTRACT(c_json, '$.id') = 1.5"],
];
const EDGE_ROWS = EDGES.map(([column, out, kept]) => `INSERT INTO ef.t9 (should_skip, ${column}) VALUES (1, ${out}), (0, ${kept})`);

/** DM's filters on tables created during sync: arithmetic on doubles, and NOW(). */
const T4_FILTER = 'a*a + b*b = c*c';
const T8_FILTER = 'ts > NOW()';

/**
 * Expressions with DM's other rules: a value other than 1 (here 2) does not match, LIKE on
 * text, an insert-value-expr naming a column the table lacks (never matches, as in DM).
 */
const T3_FILTERS: Record<string, string> = { exactly_one: 'v', skip_prefix: "s LIKE 'skip%'", ghost: 'no_such_column = 1' };
const T3_KEEP = "NOT (v <=> 1) AND NOT ((s LIKE 'skip%') <=> 1)";

const T6_FILTER = "name != 'Müller…'";

interface UpdateFilter {
  old?: string;
  new?: string;
}
const T5_UPDATES: Record<string, UpdateFilter> = {
  update_old_lt_100: { old: 'c > 100' },
  update_new_lt_100: { new: 'c > 100' },
  update_old_and_new: { old: 'c = 1', new: 'c = 2' },
};
const T5_DELETE = 'c < 0';
const T7_UPDATES: Record<string, UpdateFilter> = { e02: { new: "r = 'a'" } };

function filterYaml(): string {
  const lines = ['expression-filter:'];
  const add = (name: string, table: string, fields: Record<string, string | undefined>) => {
    lines.push(`  ${name}:`, '    schema: ef', `    table: ${table}`);
    for (const [field, sql] of Object.entries(fields)) if (sql !== undefined) lines.push(`    ${field}: ${JSON.stringify(sql)}`);
  };
  for (const [name, sql] of Object.entries(TYPE_FILTERS)) add(name, 't1', { 'insert-value-expr': sql });
  add('even_c', 't2', { 'insert-value-expr': 'c % 2 = 0' });
  add('never', 't2', { 'update-old-value-expr': '1 = 0', 'update-new-value-expr': '1 = 0' });
  for (const [name, sql] of Object.entries(T3_FILTERS)) add(name, 't3', { 'insert-value-expr': sql });
  for (const [name, u] of Object.entries(T5_UPDATES)) add(name, 't5', { 'update-old-value-expr': u.old, 'update-new-value-expr': u.new });
  add('del_negative', 't5', { 'delete-value-expr': T5_DELETE });
  add('only_muller', 't6', { 'insert-value-expr': T6_FILTER });
  for (const [column, , , sql] of EDGES) add(`edge_${column}`, 't9', { 'insert-value-expr': sql });
  add('pythagorean', 't4', { 'insert-value-expr': T4_FILTER });
  add('future_date', 't8', { 'insert-value-expr': T8_FILTER });
  for (const [name, u] of Object.entries(T7_UPDATES)) add(name, 't7', { 'update-old-value-expr': u.old, 'update-new-value-expr': u.new });
  return lines.join('\n');
}

const FILTER_NAMES = [
  ...Object.keys(TYPE_FILTERS),
  'even_c',
  'never',
  ...Object.keys(T3_FILTERS),
  ...Object.keys(T5_UPDATES),
  'del_negative',
  'only_muller',
  ...Object.keys(T7_UPDATES),
  ...EDGES.map(([column]) => `edge_${column}`),
  'pythagorean',
  'future_date',
];

async function ids(server: Endpoint, sql: string): Promise<number[]> {
  return (await queryRows(server, sql)).map((row) => Number((JSON.parse(row) as string[])[0]));
}

const idList = (list: number[]) => (list.length === 0 ? 'NULL' : list.join(', '));

/**
 * A change to a table with update or delete filters, made on the source and taken by its twin in
 * ef_expected only for the rows no filter leaves out: each side of each filter is evaluated by
 * the source on the row before and after, as DM evaluates them on the binlog's images.
 */
async function mirrored(
  server: Endpoint,
  table: string,
  change: { update: string; columns: string[]; where: string } | { delete: string },
  filters: { updates: UpdateFilter[]; deletes: string[] },
): Promise<void> {
  const where = 'update' in change ? change.where : change.delete;
  const touched = await ids(server, `SELECT id FROM ef.${table} WHERE ${where}`);
  const matching = async (sql: string | undefined) =>
    new Set(
      sql === undefined ? touched : await ids(server, `SELECT id FROM ef.${table} WHERE id IN (${idList(touched)}) AND ((${sql}) <=> 1)`),
    );
  if ('delete' in change) {
    const left = new Set<number>();
    for (const sql of filters.deletes) for (const id of await matching(sql)) left.add(id);
    await execSql(server, [`DELETE FROM ef.${table} WHERE ${where}`]);
    await execSql(server, [`DELETE FROM ef_expected.${table} WHERE id IN (${idList(touched.filter((id) => !left.has(id)))})`]);
    return;
  }
  const olds = await Promise.all(filters.updates.map((u) => matching(u.old)));
  await execSql(server, [`UPDATE ef.${table} SET ${change.update} WHERE id IN (${idList(touched)})`]);
  const news = await Promise.all(filters.updates.map((u) => matching(u.new)));
  const left = new Set(touched.filter((id) => filters.updates.some((_, i) => olds[i]!.has(id) && news[i]!.has(id))));
  const kept = touched.filter((id) => !left.has(id));
  // As the applier writes an update outside safe mode: only the columns it changes.
  const sets = change.columns.map((c) => `e.${c} = s.${c}`).join(', ');
  await execSql(server, [`UPDATE ef_expected.${table} e JOIN ef.${table} s ON e.id = s.id SET ${sets} WHERE e.id IN (${idList(kept)})`]);
}

async function insertMirrored(server: Endpoint, table: string, values: string): Promise<void> {
  await execSql(server, [`INSERT INTO ef.${table} VALUES ${values}`, `INSERT INTO ef_expected.${table} VALUES ${values}`]);
}

/** The task's zone: TIMESTAMP values and NOW() in the expressions are read in it, as in DM. */
const TASK_ZONE = '+08:00';

/**
 * Rows kept by insert-value-exprs: a table of ef_expected holding the source rows none of them
 * matches, judged in the task's zone.
 */
async function keptRows(server: Endpoint, table: string, keep: string): Promise<void> {
  await execSql(server, [
    `SET time_zone = '${TASK_ZONE}'`,
    `DROP TABLE IF EXISTS ef_expected.${table}`,
    `CREATE TABLE ef_expected.${table} LIKE ef.${table}`,
    `INSERT INTO ef_expected.${table} SELECT * FROM ef.${table} WHERE ${keep}`,
  ]);
}

const keepAll = (expressions: string[]) => expressions.map((sql) => `NOT ((${sql}) <=> 1)`).join(' AND ');

async function assertTable(upstream: Endpoint, target: Endpoint, table: string, what: string): Promise<void> {
  const { expected, actual } = await compareMerged([{ server: upstream, schema: 'ef_expected', table }], {
    server: target,
    schema: 'ef',
    table,
  });
  assert.ok(expected.length > 0, `${table}: the expected rows are not empty`);
  assert.deepEqual(actual, expected, `${table}: ${what}`);
}

test('expression filters leave rows out of the copy and of sync as DM does, for every column type, update and delete', {
  timeout: 600_000,
}, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  const updates = { updates: Object.values(T5_UPDATES), deletes: [T5_DELETE] };
  const t7 = { updates: Object.values(T7_UPDATES), deletes: [] };
  await execSql(upstream, [
    'CREATE DATABASE ef',
    'CREATE DATABASE ef_expected',
    TYPES_TABLE,
    ...TYPE_ROWS,
    'CREATE TABLE ef.t9 LIKE ef.t1',
    ...EDGE_ROWS,
    'CREATE TABLE ef.t2 (id INT PRIMARY KEY, should_skip INT, c INT)',
    'INSERT INTO ef.t2 VALUES (100, 1, 100), (101, 0, 101)',
    'CREATE TABLE ef.t3 (id INT PRIMARY KEY, v INT, s VARCHAR(20))',
    "INSERT INTO ef.t3 VALUES (1, 1, 'a'), (2, 2, 'b'), (3, NULL, 'skip me'), (4, 0, NULL), (5, -1, 'keep skip')",
    'CREATE TABLE ef.t5 (id INT PRIMARY KEY, should_skip INT, c INT)',
    'CREATE TABLE ef_expected.t5 LIKE ef.t5',
    'CREATE TABLE ef.t6 (id INT PRIMARY KEY, name VARCHAR(20), msg TEXT) CHARACTER SET latin1',
    "INSERT INTO ef.t6 VALUES (0, 'Müller…', 'Müller…'), (3, 'X Æ A-12', 'X Æ A-12')",
    'CREATE TABLE ef.t7 (id BIGINT PRIMARY KEY, r VARCHAR(10), s INT)',
    'CREATE TABLE ef_expected.t7 LIKE ef.t7',
  ]);
  await insertMirrored(upstream, 't5', '(1, 0, 99), (2, 0, 101), (3, 0, 1)');
  await insertMirrored(upstream, 't7', "(1, 'a', 2)");

  const taskFile = await writeTask({
    name: 'exprs',
    mode: 'all',
    schema: 'ef',
    instance: [`expression-filters: [${FILTER_NAMES.map((n) => JSON.stringify(n)).join(', ')}]`],
    extra: `timezone: "${TASK_ZONE}"\n${filterYaml()}`,
  });
  const addr = await startSynced('exprs', taskFile);

  // Sync, with a pause and a resume in the middle: the reader reads again from its checkpoint.
  await execSql(upstream, [
    ...TYPE_ROWS,
    ...EDGE_ROWS,
    // Tables created during sync, as in DM's test.
    'CREATE TABLE ef.t4 (id INT PRIMARY KEY, should_skip INT, a DOUBLE, b DOUBLE, c DOUBLE)',
    'INSERT INTO ef.t4 VALUES (1, 0, 1, 2, 3), (2, 1, 3, 4, 5)',
    'CREATE TABLE ef.t8 (id INT PRIMARY KEY, should_skip INT, ts DATETIME)',
    "INSERT INTO ef.t8 VALUES (1, 0, '1999-01-01'), (2, 1, '2040-01-01')",
    'INSERT INTO ef.t2 VALUES (1, 0, 1), (2, 1, 2)',
    'ALTER TABLE ef.t2 ADD COLUMN d INT',
    'INSERT INTO ef.t2 (id, should_skip, c) VALUES (3, 0, 3), (4, 1, 4)',
    // The filter names a column the table no longer has: it never matches.
    'ALTER TABLE ef.t2 DROP COLUMN c',
    'INSERT INTO ef.t2 (id, should_skip) VALUES (5, 0), (6, 0)',
    'ALTER TABLE ef.t2 ADD COLUMN c INT',
    'INSERT INTO ef.t2 (id, should_skip, d, c) VALUES (7, 1, 100, 8), (8, 0, 200, 9), (10, 2, 300, 11)',
    'UPDATE ef.t2 SET should_skip = 0 WHERE id = 10',
    "INSERT INTO ef.t3 VALUES (11, 1, 'x'), (12, 2, 'y'), (13, 3, 'skipping'), (14, NULL, NULL), (15, 1, 'skip')",
  ]);
  await mirrored(upstream, 't5', { update: 'should_skip = 1, c = 110', columns: ['should_skip', 'c'], where: 'id = 1' }, updates);
  assert.equal((await runCli(addr, ['pause-task', 'exprs'])).code, 0);
  await mirrored(upstream, 't5', { update: 'should_skip = 1, c = 20', columns: ['should_skip', 'c'], where: 'id = 2' }, updates);
  await mirrored(upstream, 't5', { update: 'should_skip = 1, c = 2', columns: ['should_skip', 'c'], where: 'c = 1' }, updates);
  await insertMirrored(upstream, 't5', '(4, 1, 1)');
  // Old and new values must both match: this one (old c = 1, new c = 3) is applied.
  await mirrored(upstream, 't5', { update: 'should_skip = 0, c = 3', columns: ['should_skip', 'c'], where: 'c = 1' }, updates);
  assert.equal((await runCli(addr, ['resume-task', 'exprs'])).code, 0);
  // One event, two rows, two verdicts.
  await insertMirrored(upstream, 't5', '(5, 0, 50), (6, 0, 150), (7, 0, -5), (8, 0, 5)');
  await mirrored(upstream, 't5', { update: 'c = c + 1', columns: ['c'], where: 'id IN (5, 6)' }, updates);
  await mirrored(upstream, 't5', { delete: 'id IN (7, 8)' }, updates);
  // The update of row 3 was left out; a later one that no filter matches reaches the target.
  // It sets every column: outside safe mode dmq writes only the columns an update changes, in
  // safe mode the whole row, and which one applies here depends on timing.
  await mirrored(upstream, 't5', { update: 'should_skip = 7, c = 4', columns: ['should_skip', 'c'], where: 'id = 3' }, updates);
  await mirrored(upstream, 't7', { update: 's = s + 1', columns: ['s'], where: 'id = 1' }, t7);
  await insertMirrored(upstream, 't7', "(2, 'b', 1)");
  await mirrored(upstream, 't7', { update: 's = s + 1', columns: ['s'], where: 'id = 2' }, t7);
  await execSql(upstream, [
    "INSERT INTO ef.t6 VALUES (1, 'Müller…', 'Müller…'), (2, 'X Æ A-12', 'X Æ A-12')",
    "ALTER TABLE ef.t6 ADD COLUMN name2 VARCHAR(20) CHARACTER SET latin1 DEFAULT 'Müller…'",
    'DELETE FROM ef.t1 WHERE id % 7 = 0',
  ]);
  const caughtUp = await waitForCaughtUp(addr, 'exprs', [upstream], 240_000);
  assert.equal(caughtUp.stage, 'Running', JSON.stringify(caughtUp));

  await keptRows(upstream, 't1', keepAll(Object.values(TYPE_FILTERS)));
  await assertTable(
    upstream,
    stack.target,
    't1',
    'each type filter leaves out its row, in the copy and in sync; deletes of left-out rows change nothing',
  );
  const [[sourceCount], [targetCount]] = await Promise.all([
    queryRows(upstream, 'SELECT COUNT(*), SUM(should_skip) FROM ef.t1'),
    queryRows(stack.target, 'SELECT COUNT(*), SUM(should_skip) FROM ef.t1'),
  ]);
  assert.notEqual(sourceCount, targetCount);
  assert.equal(JSON.parse(targetCount!)[1], '0', 'no row DM would leave out reaches the target');
  await keptRows(upstream, 't9', keepAll(EDGES.map(([, , , sql]) => sql)));
  await assertTable(upstream, stack.target, 't9', 'each edge value is named exactly by its literal, and only it');
  assert.deepEqual(await queryRows(stack.target, 'SELECT DISTINCT should_skip FROM ef.t9'), [JSON.stringify(['0'])]);
  for (const [table, filter] of [
    ['t4', T4_FILTER],
    ['t8', T8_FILTER],
  ] as const) {
    await keptRows(upstream, table, keepAll([filter]));
    await assertTable(upstream, stack.target, table, `a table created during sync: ${filter}`);
  }
  await keptRows(upstream, 't2', 'should_skip = 0');
  await assertTable(upstream, stack.target, 't2', 'a filter over a dropped column keeps rows; over the column added again, filters again');
  await keptRows(upstream, 't3', T3_KEEP);
  await assertTable(upstream, stack.target, 't3', 'only the value 1 matches; LIKE on text; a filter over an unknown column never matches');
  await keptRows(upstream, 't6', keepAll([T6_FILTER]));
  await assertTable(upstream, stack.target, 't6', 'latin1 text compares as its characters');
  await assertTable(upstream, stack.target, 't5', 'update filters need both sides; delete filters keep rows');
  await assertTable(upstream, stack.target, 't7', 'an update filter with only a new-value side');
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'exprs'])).code, 0);
});

test('check-task names the filter, the table and the expression a server refuses', { timeout: 120_000 }, async () => {
  const stack = await getStack();
  await execSql(stack.upstreams[0], ['CREATE DATABASE IF NOT EXISTS ef_bad', 'CREATE TABLE ef_bad.t (id INT PRIMARY KEY, c INT)']);
  const taskFile = await writeTask({
    name: 'bad-exprs',
    mode: 'all',
    schema: 'ef_bad',
    instance: ['expression-filters: [broken, typo]'],
    extra: [
      'expression-filter:',
      '  broken: { schema: ef_bad, table: t, insert-value-expr: "c >>> 3" }',
      '  typo: { schema: ef_bad, table: t, delete-value-expr: "cc = 1" }',
    ].join('\n'),
  });
  const checked = await runCli(dmq().addr, ['check-task', taskFile]);
  assert.equal(checked.json.result, false, checked.stdout);
  type Result = { name: string; state: string; sourceId?: string; errors: { severity: string; shortErr: string }[] };
  const results = (checked.json.checkResult as Result[]).filter((r) => r.name === 'expression_filter');
  const source = results.find((r) => r.sourceId === 'mysql-replica-01');
  const target = results.find((r) => r.sourceId === undefined);
  assert.equal(source?.state, 'fail', checked.stdout);
  assert.deepEqual(
    source.errors.map((e) => e.severity),
    ['fail', 'warn'],
  );
  assert.match(
    source.errors[0]!.shortErr,
    /^the source refuses expression filter "broken" \(insert-value-expr "c >>> 3"\) on `ef_bad`\.`t`: .*syntax/,
  );
  assert.match(
    source.errors[1]!.shortErr,
    /^expression filter "typo" \(delete-value-expr "cc = 1"\) on `ef_bad`\.`t` names a column the table does not have: it never matches, as in DM/,
  );
  assert.equal(target?.state, 'fail', checked.stdout);
  assert.equal(target.errors.length, 1, "the unknown column is the source check's to report");
  assert.match(target.errors[0]!.shortErr, /^the target refuses expression filter "broken"/);
});

test('an expression the target refuses in sync pauses the task, naming filter, table and expression', { timeout: 180_000 }, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[0];
  await execSql(upstream, [
    'CREATE DATABASE ef_late',
    'CREATE TABLE ef_late.seed (id INT PRIMARY KEY)',
    'INSERT INTO ef_late.seed VALUES (1)',
  ]);
  const taskFile = await writeTask({
    name: 'late-exprs',
    mode: 'all',
    schema: 'ef_late',
    instance: ['expression-filters: [late]'],
    // The table does not exist at precheck, so only sync can try the expression.
    extra: 'expression-filter:\n  late: { schema: ef_late, table: t, insert-value-expr: "no_such_function(c) = 1" }',
  });
  const addr = await startSynced('late-exprs', taskFile);
  await execSql(upstream, ['CREATE TABLE ef_late.t (id INT PRIMARY KEY, c INT)', 'INSERT INTO ef_late.t VALUES (1, 1), (2, 2)']);
  const paused = await waitForStatus(addr, 'late-exprs', (s) => s.stage === 'Paused', 60_000);
  const error = paused.sources[0]!.subTaskStatus[0]!.result!.errors[0]!;
  assert.equal(error.ErrCode, 'EXPRESSION_FILTER_FAILED', JSON.stringify(error));
  assert.match(
    error.Message,
    /the target cannot evaluate expression filter "late" \(insert-value-expr "no_such_function\(c\) = 1"\) on `ef_late`\.`t`/,
  );
  assert.equal(error.ErrScope, 'expression-filter.late.insert-value-expr');
  assert.deepEqual(
    await queryRows(stack.target, 'SELECT COUNT(*) FROM ef_late.t'),
    [JSON.stringify(['0'])],
    'nothing of the refused batch is applied',
  );
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'late-exprs'])).code, 0);
});

test('source-level binlog event filters act with the task filters, as DM adds them', { timeout: 300_000 }, async () => {
  const stack = await getStack();
  const upstream = stack.upstreams[1];
  const { sources } = await exampleFiles();
  const sourceFile = join(sources[1]!, '..', 'filtered-source.yaml');
  await writeFile(
    sourceFile,
    [
      await readFile(sources[1]!, 'utf8'),
      'filters:',
      '  - { schema-pattern: sf, table-pattern: "keep_*", events: [delete, drop table], action: Ignore }',
      // Same patterns as the task's rule `log-truncate`: the task's rule stands instead (DM).
      '  - { schema-pattern: sf, table-pattern: log, events: [delete], action: Ignore }',
    ].join('\n'),
  );
  const created = await runCli(dmq().addr, ['operate-source', 'create', sourceFile]);
  assert.equal(created.code, 0, created.stdout);
  await execSql(upstream, [
    'CREATE DATABASE sf',
    'CREATE TABLE sf.keep_a (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE sf.keep_b (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE sf.log (id INT PRIMARY KEY, v VARCHAR(20))',
    'CREATE TABLE sf.plain (id INT PRIMARY KEY, v VARCHAR(20))',
    ...['keep_a', 'keep_b', 'log', 'plain'].map((t) => `INSERT INTO sf.${t} SELECT seq, CONCAT('${t} ', seq) FROM sf.seq_1_to_50`),
  ]);
  const taskFile = await writeTask({
    name: 'srcfilters',
    mode: 'all',
    schema: 'sf',
    sourceId: 'mysql-replica-02',
    instance: ['filter-rules: [log-truncate]'],
    extra: 'filters:\n  log-truncate: { schema-pattern: sf, table-pattern: log, events: [truncate table], action: Ignore }',
  });
  const addr = await startSynced('srcfilters', taskFile);

  const rows = (table: string) => queryRows(upstream, `SELECT id, v FROM sf.${table}`);
  const keepA = await rows('keep_a');
  const keepB = await rows('keep_b');
  await execSql(upstream, [
    "INSERT INTO sf.keep_a VALUES (51, 'new'), (52, 'new')",
    "UPDATE sf.keep_a SET v = 'changed' WHERE id = 1",
    'DELETE FROM sf.keep_a WHERE id > 40',
    'DROP TABLE sf.keep_b',
    'DELETE FROM sf.log WHERE id <= 10',
    'DELETE FROM sf.plain WHERE id <= 10',
  ]);
  const logAfterDelete = await rows('log');
  await execSql(upstream, ['TRUNCATE TABLE sf.log', "INSERT INTO sf.log VALUES (100, 'after truncate')"]);
  const caughtUp = await waitForCaughtUp(addr, 'srcfilters', [upstream], 120_000);
  assert.equal(caughtUp.stage, 'Running', JSON.stringify(caughtUp));

  const onTarget = (table: string) => queryRows(stack.target, `SELECT id, v FROM sf.${table}`);
  const expectedKeepA = [
    ...keepA.filter((r) => JSON.parse(r)[0] !== '1'),
    JSON.stringify(['1', 'changed']),
    JSON.stringify(['51', 'new']),
    JSON.stringify(['52', 'new']),
  ].sort();
  assert.deepEqual(await onTarget('keep_a'), expectedKeepA, 'the source rule ignores deletes; inserts and updates pass');
  assert.deepEqual(await onTarget('keep_b'), keepB, 'the source rule ignores DROP TABLE');
  assert.deepEqual(
    await onTarget('log'),
    [...logAfterDelete, JSON.stringify(['100', 'after truncate'])].sort(),
    "the task's rule (truncate ignored) stands for log; the source's rule with its patterns is not added, so deletes apply",
  );
  assert.deepEqual(await onTarget('plain'), await rows('plain'), 'a table no rule names replicates as it is');
  assert.equal((await runCli(addr, ['stop-task', '--remove-meta', 'srcfilters'])).code, 0);
});
