import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import { qualify, quoteId } from '../../src/shared/sql/quote.js';
import type { Endpoint } from '../harness/servers.js';
import { getStack } from '../harness/stack.js';

const EXAMPLES = resolve(import.meta.dirname, '../../examples');

/**
 * The project's example files with the test stack's ports in place of the guide's, as a user
 * would edit them; everything else stays as written.
 */
export async function exampleFiles(
  changes: { taskMode?: string; extraTaskYaml?: string } = {},
): Promise<{ dir: string; task: string; sources: string[] }> {
  const stack = await getStack();
  const dir = await mkdtemp(join(tmpdir(), 'dmq-example-'));
  const sources: string[] = [];
  for (const [i, name] of ['source-01.yaml', 'source-02.yaml'].entries()) {
    const text = (await readFile(join(EXAMPLES, name), 'utf8')).replace(/port: \d+/, `port: ${stack.upstreams[i as 0 | 1].port}`);
    sources.push(join(dir, name));
    await writeFile(join(dir, name), text);
  }
  let task = (await readFile(join(EXAMPLES, 'task.yaml'), 'utf8')).replace(/port: 4000/, `port: ${stack.target.port}`);
  if (changes.taskMode) task = task.replace(/task-mode: "all"/, `task-mode: "${changes.taskMode}"`);
  if (changes.extraTaskYaml) task += `\n${changes.extraTaskYaml}\n`;
  await writeFile(join(dir, 'task.yaml'), task);
  return { dir, task: join(dir, 'task.yaml'), sources };
}

/**
 * Rewrites the example task in `taskFile` to copy every table of database `db` under the name
 * `name`, with `mydumper` (YAML lines under `mydumpers.global`) in place of its `-B -T` arguments.
 */
export async function exampleTaskForDatabase(taskFile: string, options: { name: string; db: string; mydumper?: string }): Promise<void> {
  const task = (await readFile(taskFile, 'utf8'))
    .replace('name: "test"', `name: "${options.name}"`)
    .replace(
      /black-white-list:\n {2}global:\n {4}do-tables:\n {4}- db-name: "test_db"\n {6}tbl-name: "test_table"/,
      `black-white-list:\n  global:\n    do-dbs: ["${options.db}"]`,
    )
    .replace('extra-args: "-B test_db -T test_table"', `extra-args: ""${options.mydumper ? `\n${options.mydumper}` : ''}`);
  await writeFile(taskFile, task);
}

/** A user of any host with every privilege and this password: for tests of where passwords go. */
export function userWithPassword(user: string, password: string): string[] {
  return [`CREATE USER IF NOT EXISTS '${user}'@'%' IDENTIFIED BY '${password}'`, `GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`];
}

export async function execSql(server: Endpoint, statements: string[]): Promise<void> {
  const conn = await mysql.createConnection({ ...server, multipleStatements: false });
  try {
    await conn.query("SET time_zone = '+00:00'");
    for (const s of statements) await conn.query(s);
  } finally {
    await conn.end();
  }
}

/** Where the server's binlog ends now (SHOW MASTER STATUS). */
export async function masterPosition(server: Endpoint): Promise<{ file: string; pos: number }> {
  const conn = await mysql.createConnection(server);
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
    return { file: String(rows[0]!.File), pos: Number(rows[0]!.Position) };
  } finally {
    await conn.end();
  }
}

/**
 * Copies a schema's tables and rows from one server to another, as an incremental task expects
 * the target to hold them before its start position. Setup SQL cannot simply run on both: it
 * uses MariaDB's seq_1_to_N tables, which a TiDB target lacks.
 */
export async function cloneSchema(from: Endpoint, to: Endpoint, schema: string): Promise<void> {
  const source = await mysql.createConnection({ ...from, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  const target = await mysql.createConnection({ ...to, dateStrings: true });
  try {
    for (const conn of [source, target]) await conn.query("SET time_zone = '+00:00'");
    await target.query(`CREATE DATABASE ${quoteId(schema)}`);
    const [tables] = await source.query<mysql.RowDataPacket[]>(
      "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
      [schema],
    );
    for (const { t } of tables) {
      const name = qualify(schema, String(t));
      const [[created]] = await source.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE ${name}`);
      await target.query(`USE ${quoteId(schema)}`);
      await target.query(String(created!['Create Table']));
      const [rows] = await source.query<mysql.RowDataPacket[]>({ sql: `SELECT * FROM ${name}`, rowsAsArray: true });
      const all = rows as unknown as unknown[][];
      for (let i = 0; i < all.length; i += 1000) await target.query(`INSERT INTO ${name} VALUES ?`, [all.slice(i, i + 1000)]);
    }
  } finally {
    await source.end();
    await target.end();
  }
}

/** A table with every type dmq must copy exactly, and rows at each type's edges. */
export const ALL_TYPES_TABLE = `CREATE TABLE test_db.test_table (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  dec_max DECIMAL(65,30), dec_small DECIMAL(10,2) UNSIGNED,
  f FLOAT, d DOUBLE,
  b1 BIT(1), b64 BIT(64),
  dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
  c CHAR(10), vc VARCHAR(255) CHARACTER SET utf8mb4, l1 VARCHAR(100) CHARACTER SET latin1,
  tx TEXT, mtx MEDIUMTEXT,
  bn BINARY(16), vb VARBINARY(255), bl BLOB, lb LONGBLOB,
  e ENUM('a','b','c'), st SET('x','y','z'),
  j JSON
) DEFAULT CHARSET=utf8mb4`;

const ALL_BYTES = `X'${Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex')}'`;

/** Rows for one upstream; `base` keeps the two upstreams' keys apart so the merge is lossless. */
export function allTypesRows(base: number): string[] {
  const cols =
    'id, ti, tiu, si, siu, mi, i, iu, bi, biu, dec_max, dec_small, f, d, b1, b64, dt, dtm, ts, tm, y, c, vc, l1, tx, mtx, bn, vb, bl, lb, e, st, j';
  const row = (values: string) => `INSERT INTO test_db.test_table (${cols}) VALUES (${values})`;
  return [
    row(`${base + 1}, -128, 255, -32768, 65535, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
      '-99999999999999999999999999999999999.999999999999999999999999999999', 99999999.99, 3.4028234e38, 1.7976931348623157e308,
      b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
      '1000-01-01', '1000-01-01 00:00:00.000000', '1970-01-01 00:00:01.000000', '-838:59:59.000000', 1901,
      'a', '😀 emoji ✓ 中文', 'café ÿ', 'line1\\nline2\\ttab\\\\back''quote"dq\\0nul\\Zctrl', REPEAT('m', 70000),
      ${ALL_BYTES.slice(0, 2 + 32)}', ${ALL_BYTES}, ${ALL_BYTES}, ${ALL_BYTES},
      'a', 'x,z', '{"big": 9223372036854775807, "neg": -9223372036854775808, "u": 18446744073709551615, "s": "\\\\u00e9 😀"}'`),
    row(`${base + 2}, 127, 0, 32767, 0, 8388607, 2147483647, 0, 9223372036854775807, 0,
      '99999999999999999999999999999999999.999999999999999999999999999999', 0.01, 1.17549435e-38, 5e-324,
      b'0', b'0',
      '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '838:59:59.000000', 2155,
      '', '', '', '', '',
      X'', X'', X'', X'',
      'c', '', '[]'`),
    row(`${base + 3}, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0.000000000000000000000000000001, 0.00, 0.1, 0.30000000000000004,
      NULL, b'1010', '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456', '-00:00:00.000001', 2000,
      'trailing  ', 'tab\\tend ', 'Ünïcödé', 'x', 'y', X'00', X'00ff00', X'0a0d1a5c27', X'',
      NULL, 'x,y,z', '{"nested": {"a": [1, 2.5, null, true]}}'`),
    row(`${base + 4}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`),
  ];
}

/**
 * A task.yaml for one schema of one source (mysql-replica-01 unless `sourceId` says) into the
 * test target, written to a temp file: `instance` holds extra lines of the instance (indented
 * four spaces), `extra` extra top-level maps.
 */
export async function writeTask(options: {
  name: string;
  mode: string;
  schema: string;
  instance?: string[];
  extra?: string;
  targetPort?: number;
  /** The instance's source, mysql-replica-01 unless given. */
  sourceId?: string;
  /** More fields of target-database, e.g. `session: { sql_mode: '' }`. */
  target?: string;
  /** More fields of the block-allow list, e.g. `do-tables: [...]`. */
  list?: string;
}): Promise<string> {
  const stack = await getStack();
  const dir = await mkdtemp(join(tmpdir(), 'dmq-task-'));
  const path = join(dir, `${options.name}.yaml`);
  await writeFile(
    path,
    [
      `name: ${options.name}`,
      `task-mode: ${options.mode}`,
      `target-database: { host: 127.0.0.1, port: ${options.targetPort ?? stack.target.port}, user: root, password: ""${options.target ? `, ${options.target}` : ''} }`,
      'mysql-instances:',
      `  - source-id: ${options.sourceId ?? 'mysql-replica-01'}`,
      '    block-allow-list: only',
      ...(options.instance ?? []).map((line) => `    ${line}`),
      'block-allow-list:',
      `  only: { do-dbs: [${JSON.stringify(options.schema)}]${options.list ? `, ${options.list}` : ''} }`,
      options.extra ?? '',
    ].join('\n'),
  );
  return path;
}

/**
 * The seed task's tables on both upstreams: `test_db.test_table` (what startWriter writes; keys
 * of upstream i are ≡ i modulo 2, so the shards merge without collisions) with `rows` rows each,
 * and `test_db.audit`, which the task does not migrate.
 */
export async function seedTestTables(rows: number): Promise<void> {
  const stack = await getStack();
  for (const [i, upstream] of stack.upstreams.entries()) {
    await execSql(upstream, [
      'CREATE DATABASE test_db',
      'CREATE TABLE test_db.test_table (id INT PRIMARY KEY, k INT, c VARCHAR(200), b BLOB, KEY (k))',
      `INSERT INTO test_db.test_table SELECT seq * 2 + ${i}, seq % 1000, CONCAT('row ', seq), NULL FROM test_db.seq_0_to_${rows - 1}`,
      'CREATE TABLE test_db.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))',
    ]);
  }
}

/** Statements creating `<schema>.items (id, k, c)` with `rows` rows: the table startRowWriter writes. */
export function itemsTable(schema: string, rows: number): string[] {
  return [
    `CREATE DATABASE ${schema}`,
    `CREATE TABLE ${schema}.items (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40))`,
    `INSERT INTO ${schema}.items SELECT seq, seq % 97, CONCAT('item ', seq) FROM ${schema}.seq_1_to_${rows}`,
  ];
}
