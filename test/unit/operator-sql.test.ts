import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkReplaceStatements, type ReplacedEvent } from '../../src/shared/ddl/operator-sql.js';

const accepted = (sqls: string[], replaces: ReplacedEvent) => {
  const checked = checkReplaceStatements(sqls, replaces);
  assert.ok(checked.ok, checked.ok ? '' : checked.problems.join('\n'));
  return checked.statements;
};

const refused = (sqls: string[], replaces: ReplacedEvent) => {
  const checked = checkReplaceStatements(sqls, replaces);
  assert.ok(!checked.ok, `expected a refusal of ${JSON.stringify(sqls)}`);
  return checked.problems;
};

describe('binlog replace of a batch of rows', () => {
  test('INSERT, UPDATE, DELETE and REPLACE are stored one statement each, comments around them dropped', () => {
    assert.deepEqual(
      accepted(
        [
          'INSERT INTO db.t VALUES (1, 2); UPDATE db.t SET v = 3 WHERE id = 1;',
          "  delete from db.t where v = 'a;b' -- a comment ending the line",
          '/* why */ REPLACE INTO db.t VALUES (2, "x\\";y")',
        ],
        'rows',
      ),
      [
        'INSERT INTO db.t VALUES (1, 2)',
        'UPDATE db.t SET v = 3 WHERE id = 1',
        "delete from db.t where v = 'a;b'",
        'REPLACE INTO db.t VALUES (2, "x\\";y")',
      ],
    );
  });

  const endsTheTransaction = [
    'COMMIT',
    'commit work',
    'ROLLBACK',
    'BEGIN',
    'START TRANSACTION',
    'SET autocommit = 0',
    'SET @@session.autocommit = 1',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'LOCK TABLES db.t WRITE',
    'UNLOCK TABLES',
    'SAVEPOINT s',
    'RELEASE SAVEPOINT s',
    "XA START 'x'",
  ];
  for (const sql of endsTheTransaction) {
    test(`${JSON.stringify(sql)} is refused: it would end or change the batch's transaction`, () => {
      const [problem] = refused(['INSERT INTO db.t VALUES (1)', sql], 'rows');
      assert.match(problem!, /^sqls\[1\]: ".*" would end or change the transaction that writes this batch with its checkpoint/);
    });
  }

  test('a COMMIT hidden after a valid statement in the same string is found, and named', () => {
    const problems = refused(["INSERT INTO db.t VALUES (2, 'x'); COMMIT; INSERT INTO db.t VALUES (3, 'y')"], 'rows');
    assert.deepEqual(problems.length, 1);
    assert.match(problems[0]!, /^sqls\[0\]: "COMMIT" would end or change the transaction/);
  });

  for (const sql of ['ALTER TABLE db.t ADD COLUMN c INT', 'CREATE TABLE db.u (id INT)', 'TRUNCATE TABLE db.t', 'DROP TABLE db.t']) {
    test(`${JSON.stringify(sql)} is refused: a DDL commits implicitly`, () => {
      assert.match(refused([sql], 'rows')[0]!, /is a DDL, which commits the transaction implicitly/);
    });
  }

  for (const sql of [
    'SELECT 1',
    "LOAD DATA INFILE '/etc/passwd' INTO TABLE db.t",
    'CALL db.p()',
    'USE db',
    'BATCH ON id LIMIT 10 DELETE FROM db.t',
    'WITH x AS (SELECT 1) DELETE FROM db.t',
  ]) {
    test(`${JSON.stringify(sql)} is refused: not a row statement`, () => {
      assert.match(refused([sql], 'rows')[0]!, /is not an INSERT, UPDATE, DELETE or REPLACE/);
    });
  }

  test('an executable comment is refused whatever it holds: the server runs its contents', () => {
    assert.match(refused(['INSERT INTO db.t VALUES (1) /*!50000 ; COMMIT */'], 'rows')[0]!, /has an executable comment/);
    assert.match(refused(['/*M! COMMIT */ INSERT INTO db.t VALUES (1)'], 'rows')[0]!, /has an executable comment/);
  });

  test('a string with nothing but comments and semicolons is refused', () => {
    assert.match(refused([' ; -- nothing\n;'], 'rows')[0]!, /^sqls\[0\]: holds no statement/);
  });
});

describe('binlog replace of a DDL the target rejected', () => {
  test('DDL about tables, indexes and schemas, and row statements, are accepted', () => {
    const sqls = [
      'DROP INDEX by_c ON db.items',
      'CREATE UNIQUE INDEX by_c ON db.items (c)',
      'ALTER TABLE db.items ADD COLUMN x INT',
      'RENAME TABLE db.a TO db.b',
      'TRUNCATE TABLE db.items',
      'CREATE DATABASE IF NOT EXISTS db2',
      'INSERT INTO db.items VALUES (1)',
    ];
    assert.deepEqual(accepted(sqls, 'ddl'), sqls);
  });

  for (const sql of ['SET SESSION sql_mode = NO_BACKSLASH_ESCAPES', 'LOCK TABLES db.t WRITE', 'START TRANSACTION', 'COMMIT']) {
    test(`${JSON.stringify(sql)} is refused: it would stay on the connection`, () => {
      assert.match(refused([sql], 'ddl')[0]!, /would leave a transaction, lock or session setting on a connection dmq goes on using/);
    });
  }

  for (const [sql, what] of <[string, string][]>[
    ["CREATE USER 'x'@'%'", 'CREATE USER'],
    ['CREATE TEMPORARY TABLE db.t (id INT)', 'CREATE TEMPORARY TABLE'],
    ['CREATE TRIGGER tr BEFORE INSERT ON db.t FOR EACH ROW SET NEW.a = 1', 'CREATE TRIGGER'],
  ]) {
    test(`${JSON.stringify(sql)} is refused: ${what} is not about tables or schemas`, () => {
      assert.match(refused([sql], 'ddl')[0]!, new RegExp(`is ${what}, not a change of tables or schemas`));
    });
  }

  test('USE and CALL are refused', () => {
    assert.equal(refused(['USE db', 'CALL db.p()'], 'ddl').length, 2);
  });
});

describe('binlog replace of a DDL the reader refused', () => {
  test("statements are read as source DDL; a non-DDL is refused with the reader's reason", () => {
    assert.deepEqual(accepted(['ALTER TABLE t ADD COLUMN c INT; CREATE INDEX i ON t (c)'], 'source-ddl'), [
      'ALTER TABLE t ADD COLUMN c INT',
      'CREATE INDEX i ON t (c)',
    ]);
    const problems = refused(['ALTER TABLE t ADD COLUMN c INT', 'COMMIT', 'INSERT INTO t VALUES (1)'], 'source-ddl');
    assert.equal(problems.length, 2);
    assert.match(
      problems[0]!,
      /^sqls\[1\]: "COMMIT" cannot be read as a DDL the source ran \(TRANSACTION is not DDL that dmq replicates\)/,
    );
    assert.match(problems[1]!, /^sqls\[2\]: "INSERT INTO t VALUES \(1\)" cannot be read as a DDL the source ran/);
  });
});
