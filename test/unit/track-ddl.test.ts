import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionsAt, type SchemaVersion } from '../../src/shared/checkpoint/schema-checkpoint.js';
import { readDdl } from '../../src/shared/ddl/read-ddl.js';
import { definitionOfStatement, type SchemaChange, trackDdl } from '../../src/shared/schema/track-ddl.js';
import { createTableSql, disagreement, type TrackedTable } from '../../src/shared/schema/tracked-table.js';

const t: TrackedTable = {
  columns: [
    { name: 'id', type: 'int(11)', charset: null, collation: null },
    { name: 'k', type: 'int(11)', charset: null, collation: null },
    { name: 'c', type: 'varchar(40)', charset: 'utf8mb4', collation: 'utf8mb4_general_ci' },
  ],
  primaryKey: ['id'],
  charset: 'utf8mb4',
};

/**
 * The tracker holding db.t (and db.u, a copy), migrating every table of db but none of other; the
 * pieces of one statement apply in order, as the reader applies them.
 */
function track(sql: string, given: Record<string, TrackedTable> = { t, u: t }): SchemaChange[] | string {
  const reading = readDdl(sql, 'db');
  assert.equal(reading.type, 'ddl', JSON.stringify(reading));
  if (reading.type !== 'ddl') return 'unread';
  const tables = { ...given };
  const view = {
    get: (schema: string, table: string) => (schema === 'db' ? tables[table] : undefined),
    tablesOf: (schema: string) => (schema === 'db' ? Object.keys(tables) : []),
  };
  const changes: SchemaChange[] = [];
  for (const ddl of reading.statements) {
    const result = trackDdl(view, ddl, (schema) => schema === 'db');
    if (typeof result === 'string') return result;
    for (const c of result) {
      if (c.schema !== 'db') continue;
      if (c.definition === null) delete tables[c.table];
      else tables[c.table] = c.definition;
    }
    changes.push(...result);
  }
  return changes;
}

const columnsOf = (changes: SchemaChange[] | string, index = 0) => {
  assert.ok(Array.isArray(changes), String(changes));
  return changes[index]!.definition?.columns.map((c) => `${c.name} ${c.type}${c.charset ? ` ${c.charset}` : ''}`);
};

test('ADD COLUMN at the end, FIRST and AFTER a column, with the table charset for text', () => {
  assert.deepEqual(columnsOf(track('ALTER TABLE t ADD COLUMN extra VARCHAR(20) NOT NULL DEFAULT "x" AFTER k')), [
    'id int(11)',
    'k int(11)',
    'extra varchar(20) utf8mb4',
    'c varchar(40) utf8mb4',
  ]);
  assert.deepEqual(columnsOf(track('ALTER TABLE db.t ADD f BIGINT UNSIGNED FIRST, ADD COLUMN l TEXT CHARACTER SET latin1')), [
    'f bigint unsigned',
    'id int(11)',
    'k int(11)',
    'c varchar(40) utf8mb4',
    'l text latin1',
  ]);
});

test('ADD of a column the definition has and DROP of one it lacks change nothing (a DDL met again after the first read)', () => {
  assert.deepEqual(columnsOf(track('ALTER TABLE t ADD COLUMN c VARCHAR(40)')), ['id int(11)', 'k int(11)', 'c varchar(40) utf8mb4']);
  assert.deepEqual(columnsOf(track('ALTER TABLE t DROP COLUMN gone')), ['id int(11)', 'k int(11)', 'c varchar(40) utf8mb4']);
});

test('DROP, MODIFY, CHANGE and RENAME COLUMN; the primary key follows its columns', () => {
  assert.deepEqual(columnsOf(track('ALTER TABLE t DROP COLUMN k')), ['id int(11)', 'c varchar(40) utf8mb4']);
  assert.deepEqual(columnsOf(track("ALTER TABLE t MODIFY c ENUM('a','b''c') FIRST")), [
    "c enum('a','b''c') utf8mb4",
    'id int(11)',
    'k int(11)',
  ]);
  const changed = track('ALTER TABLE t CHANGE id ident BIGINT');
  assert.deepEqual(columnsOf(changed), ['ident bigint', 'k int(11)', 'c varchar(40) utf8mb4']);
  assert.deepEqual((changed as SchemaChange[])[0]!.definition!.primaryKey, ['ident']);
  const renamed = track('ALTER TABLE t RENAME COLUMN ID TO key_id');
  assert.deepEqual(columnsOf(renamed), ['key_id int(11)', 'k int(11)', 'c varchar(40) utf8mb4']);
  assert.deepEqual((renamed as SchemaChange[])[0]!.definition!.primaryKey, ['key_id']);
  assert.deepEqual((track('ALTER TABLE t DROP PRIMARY KEY') as SchemaChange[])[0]!.definition!.primaryKey, []);
  assert.deepEqual((track('ALTER TABLE t ADD PRIMARY KEY (k, id)') as SchemaChange[])[0]!.definition!.primaryKey, ['k', 'id']);
});

test('MODIFY of a column the definition lacks is a reason: the tracker cannot follow it', () => {
  assert.equal(track('ALTER TABLE t MODIFY nope INT'), 'column nope is not in the tracked definition');
});

test('CREATE TABLE (and LIKE), DROP TABLE, RENAME TABLE, DROP DATABASE; TRUNCATE and indexes change nothing', () => {
  const created = track(
    'CREATE TABLE n (id INT UNSIGNED NOT NULL, name VARCHAR(20) COLLATE latin1_bin, d DECIMAL(10,2), b BLOB, PRIMARY KEY (id)) DEFAULT CHARSET=latin1',
  );
  assert.deepEqual(columnsOf(created), ['id int unsigned', 'name varchar(20) latin1', 'd decimal(10,2)', 'b blob']);
  assert.deepEqual((created as SchemaChange[])[0]!.definition!.primaryKey, ['id']);
  assert.deepEqual(track('CREATE TABLE other.n (id INT)'), [], 'not migrated: not tracked');
  assert.deepEqual(columnsOf(track('CREATE TABLE n LIKE t')), ['id int(11)', 'k int(11)', 'c varchar(40) utf8mb4']);
  assert.deepEqual(track('DROP TABLE t, nope'), [{ schema: 'db', table: 't', definition: null }]);
  assert.deepEqual(track('RENAME TABLE t TO t2'), [
    { schema: 'db', table: 't', definition: null },
    { schema: 'db', table: 't2', definition: t },
  ]);
  assert.deepEqual(track('RENAME TABLE t TO other.t'), [{ schema: 'db', table: 't', definition: null }], 'renamed away: untracked');
  assert.deepEqual(track('DROP DATABASE db'), [
    { schema: 'db', table: 't', definition: null },
    { schema: 'db', table: 'u', definition: null },
  ]);
  assert.deepEqual(track('TRUNCATE TABLE t'), []);
  assert.deepEqual(track('CREATE INDEX ik ON t (k)'), []);
  assert.deepEqual(columnsOf(track('ALTER TABLE t ADD INDEX ik (k)')), ['id int(11)', 'k int(11)', 'c varchar(40) utf8mb4']);
});

test('ALTER TABLE ... RENAME TO moves the altered definition', () => {
  const changes = track('ALTER TABLE t ADD COLUMN z INT, RENAME TO t3');
  assert.ok(Array.isArray(changes));
  assert.deepEqual(
    changes.map((c) => [c.table, c.definition?.columns.map((col) => col.name) ?? null]),
    [
      ['t', ['id', 'k', 'c', 'z']],
      ['t', null],
      ['t3', ['id', 'k', 'c', 'z']],
    ],
  );
});

test('a CREATE TABLE statement is a definition for binlog-schema update, and list renders one that reads back the same', () => {
  const reading = readDdl(createTableSql('db', 't', t), 'db');
  assert.equal(reading.type, 'ddl');
  if (reading.type !== 'ddl') return;
  assert.deepEqual(definitionOfStatement(reading.statements[0]!), t);
  const notCreate = readDdl('DROP TABLE t', 'db');
  if (notCreate.type !== 'ddl') return assert.fail('DROP TABLE reads');
  assert.equal(definitionOfStatement(notCreate.statements[0]!), 'it is not a CREATE TABLE statement with its columns');
});

test('a tablemap fits the definition when its column count and type codes do', () => {
  assert.equal(disagreement(t, [3, 3, 15]), undefined);
  assert.equal(disagreement(t, [3, 3]), 'the binlog has 2 columns, the tracked definition 3 (id, k, c)');
  assert.equal(disagreement(t, [3, 8, 15]), 'column 2 is k int(11) in the tracked definition, but the binlog logs it with type code 8');
});

test('the versions valid at a position: each table its latest from at or before it; dropped tables gone', () => {
  const v = (table: string, pos: number, definition: TrackedTable | null): SchemaVersion => ({
    schema: 'db',
    table,
    validFrom: { file: 'bin.000002', pos },
    definition,
  });
  const wider = { ...t, columns: [...t.columns, { name: 'z', type: 'int(11)', charset: null, collation: null }] };
  const versions = [v('t', 100, t), v('u', 100, t), v('t', 500, wider), v('u', 700, null)];
  const at = (pos: number) =>
    [...versionsAt(versions, { file: 'bin.000002', pos }).values()].map((x) => `${x.table}:${x.definition!.columns.length}`);
  assert.deepEqual(at(499), ['t:3', 'u:3'], 'a restart before the ADD COLUMN decodes with the columns as they were');
  assert.deepEqual(at(500), ['t:4', 'u:3']);
  assert.deepEqual(at(700), ['t:4']);
  assert.deepEqual([...versionsAt(versions, { file: 'bin.000001', pos: 999 }).keys()], [], 'an earlier file: nothing yet');
});
