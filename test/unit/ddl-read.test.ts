import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TableRef } from '../../src/shared/config/types.js';
import { type DdlStatement, readDdl } from '../../src/shared/ddl/read-ddl.js';

type Route = (schema: string, table: string) => TableRef;

const ref = (schema: string, table: string): TableRef => ({ schema, table });
const sameNames: Route = (schema, table) => ({ schema, table });
/** Shard merging: shard_db.t_1, shard_db.t_2 ... into merged.t; other shard_db tables into merged. */
const mergeShards: Route = (schema, table) => {
  if (schema !== 'shard_db') return { schema, table };
  return { schema: 'merged', table: table.startsWith('t_') ? 't' : table };
};

function statementsOf(sql: string, defaultSchema: string): DdlStatement[] {
  const reading = readDdl(sql, defaultSchema);
  assert.equal(reading.type, 'ddl', JSON.stringify(reading));
  return reading.type === 'ddl' ? reading.statements : [];
}

const summary = (statement: DdlStatement, route: Route) => ({
  kind: statement.kind,
  tables: statement.tables,
  sql: statement.render(route),
});

describe('readDdl: kinds, tables and the routed statement', () => {
  const cases: { name: string; sql: string; schema?: string; statements: ReturnType<typeof summary>[] }[] = [
    {
      name: 'create table, unqualified: default schema, made IF NOT EXISTS',
      sql: "CREATE TABLE t_1 (id int primary key, a varchar(10) NOT NULL DEFAULT 'x')",
      statements: [
        {
          kind: 'create table',
          tables: [ref('shard_db', 't_1')],
          sql: "CREATE TABLE IF NOT EXISTS `merged`.`t` (`id` INT PRIMARY KEY, `a` VARCHAR(10) NOT NULL DEFAULT 'x')",
        },
      ],
    },
    {
      name: 'create table, qualified, without a default schema; IF NOT EXISTS kept',
      sql: 'create table if not exists `shard_db`.`t_2` (a int)',
      schema: '',
      statements: [{ kind: 'create table', tables: [ref('shard_db', 't_2')], sql: 'CREATE TABLE IF NOT EXISTS `merged`.`t` (`a` INT)' }],
    },
    {
      name: 'create table as mysqldump writes it (the MariaDB grammar keeps COLLATE on the column)',
      sql: [
        'CREATE TABLE `t_1` (',
        '  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,',
        '  `name` varchar(255) COLLATE utf8mb4_unicode_ci DEFAULT NULL,',
        '  `at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,',
        '  PRIMARY KEY (`id`),',
        '  UNIQUE KEY `uk_name` (`name`)',
        ") ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COMMENT='it''s'",
      ].join('\n'),
      statements: [
        {
          kind: 'create table',
          tables: [ref('shard_db', 't_1')],
          sql:
            'CREATE TABLE IF NOT EXISTS `merged`.`t` (`id` BIGINT(20) UNSIGNED NOT NULL AUTO_INCREMENT, `name` VARCHAR(255) COLLATE utf8mb4_unicode_ci DEFAULT NULL, ' +
            '`at` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, PRIMARY KEY (`id`), UNIQUE KEY `uk_name` (`name`)) ' +
            "ENGINE = INNODB AUTO_INCREMENT = 5 DEFAULT CHARSET = utf8mb4 COMMENT = 'it''s'",
        },
      ],
    },
    {
      name: "a column's CHARACTER SET and COLLATE stay right after its type, where MySQL and MariaDB read them (DM's expression_filter case)",
      sql: "ALTER TABLE t_1 ADD COLUMN name2 VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT 'Müller…'",
      statements: [
        {
          kind: 'alter table',
          tables: [ref('shard_db', 't_1')],
          sql: "ALTER TABLE `merged`.`t` ADD COLUMN `name2` VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT 'Müller…'",
        },
      ],
    },
    {
      name: 'create table like: the new table first, then its model; both routed',
      sql: 'CREATE TABLE t_2 LIKE t_1',
      statements: [
        {
          kind: 'create table',
          tables: [ref('shard_db', 't_2'), ref('shard_db', 't_1')],
          sql: 'CREATE TABLE IF NOT EXISTS `merged`.`t` LIKE `merged`.`t`',
        },
      ],
    },
    {
      name: 'create table (like ...) across schemas',
      sql: 'create table other.copy (LIKE shard_db.t_1)',
      statements: [
        {
          kind: 'create table',
          tables: [ref('other', 'copy'), ref('shard_db', 't_1')],
          sql: 'CREATE TABLE IF NOT EXISTS `other`.`copy` LIKE `merged`.`t`',
        },
      ],
    },
    {
      name: "a foreign key's parent table is in the child's schema and is routed",
      sql: 'create table shard_db.child (a int, foreign key (a) references t_1 (id))',
      schema: 'other',
      statements: [
        {
          kind: 'create table',
          tables: [ref('shard_db', 'child')],
          sql: 'CREATE TABLE IF NOT EXISTS `merged`.`child` (`a` INT, FOREIGN KEY (`a`) REFERENCES `merged`.`t` (`id`))',
        },
      ],
    },
    {
      name: 'drop table: one statement per table, made IF EXISTS',
      sql: 'DROP TABLE `t_1`,`other`.`x` /* generated by server */',
      statements: [
        { kind: 'drop table', tables: [ref('shard_db', 't_1')], sql: 'DROP TABLE IF EXISTS `merged`.`t`' },
        { kind: 'drop table', tables: [ref('other', 'x')], sql: 'DROP TABLE IF EXISTS `other`.`x`' },
      ],
    },
    {
      name: 'drop table if exists, without a default schema',
      sql: 'drop table if exists shard_db.t_1',
      schema: '',
      statements: [{ kind: 'drop table', tables: [ref('shard_db', 't_1')], sql: 'DROP TABLE IF EXISTS `merged`.`t`' }],
    },
    {
      name: 'truncate, with and without TABLE',
      sql: 'truncate t_1',
      statements: [{ kind: 'truncate table', tables: [ref('shard_db', 't_1')], sql: 'TRUNCATE TABLE `merged`.`t`' }],
    },
    {
      name: 'truncate table, qualified',
      sql: 'TRUNCATE TABLE other.x',
      schema: '',
      statements: [{ kind: 'truncate table', tables: [ref('other', 'x')], sql: 'TRUNCATE TABLE `other`.`x`' }],
    },
    {
      name: 'rename table: one statement per pair, in order; the new name in the default schema',
      sql: 'RENAME TABLE t_1 TO old_t_1, other.a TO other.b',
      statements: [
        {
          kind: 'rename table',
          tables: [ref('shard_db', 't_1'), ref('shard_db', 'old_t_1')],
          sql: 'RENAME TABLE `merged`.`t` TO `merged`.`old_t_1`',
        },
        { kind: 'rename table', tables: [ref('other', 'a'), ref('other', 'b')], sql: 'RENAME TABLE `other`.`a` TO `other`.`b`' },
      ],
    },
    {
      name: 'alter table ... rename is a rename table; its new name is in the default schema',
      sql: 'ALTER TABLE other.a RENAME TO b',
      statements: [
        { kind: 'rename table', tables: [ref('other', 'a'), ref('shard_db', 'b')], sql: 'RENAME TABLE `other`.`a` TO `merged`.`b`' },
      ],
    },
    {
      name: 'alter table with a rename among other clauses: the alter, then the rename',
      sql: 'alter table t_1 add column x int, rename t_9',
      statements: [
        { kind: 'alter table', tables: [ref('shard_db', 't_1')], sql: 'ALTER TABLE `merged`.`t` ADD COLUMN `x` INT' },
        {
          kind: 'rename table',
          tables: [ref('shard_db', 't_1'), ref('shard_db', 't_9')],
          sql: 'RENAME TABLE `merged`.`t` TO `merged`.`t`',
        },
      ],
    },
    {
      name: 'alter table, qualified',
      sql: 'ALTER TABLE shard_db.t_1 ADD COLUMN c varchar(20) DEFAULT NULL AFTER a',
      schema: '',
      statements: [
        {
          kind: 'alter table',
          tables: [ref('shard_db', 't_1')],
          sql: 'ALTER TABLE `merged`.`t` ADD COLUMN `c` VARCHAR(20) DEFAULT NULL AFTER `a`',
        },
      ],
    },
    {
      name: 'alter table add column if not exists (MariaDB grammar)',
      sql: 'ALTER TABLE t_1 ADD COLUMN IF NOT EXISTS c int',
      statements: [
        { kind: 'alter table', tables: [ref('shard_db', 't_1')], sql: 'ALTER TABLE `merged`.`t` ADD COLUMN IF NOT EXISTS `c` INT' },
      ],
    },
    {
      name: 'alter table add foreign key: the parent routed too',
      sql: 'alter table t_1 add constraint fk foreign key (a) references p (id)',
      statements: [
        {
          kind: 'alter table',
          tables: [ref('shard_db', 't_1')],
          sql: 'ALTER TABLE `merged`.`t` ADD CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `merged`.`p` (`id`)',
        },
      ],
    },
    {
      name: 'alter table with ALGORITHM and LOCK',
      sql: 'ALTER TABLE t_1 ALGORITHM=INPLACE, LOCK=NONE, ADD COLUMN x int',
      statements: [
        {
          kind: 'alter table',
          tables: [ref('shard_db', 't_1')],
          sql: 'ALTER TABLE `merged`.`t` ALGORITHM = INPLACE, LOCK = NONE, ADD COLUMN `x` INT',
        },
      ],
    },
    {
      name: 'create index',
      sql: 'CREATE UNIQUE INDEX uk ON t_1 (a, b DESC)',
      statements: [
        { kind: 'create index', tables: [ref('shard_db', 't_1')], sql: 'CREATE UNIQUE INDEX `uk` ON `merged`.`t` (`a`, `b` DESC)' },
      ],
    },
    {
      name: 'create index, qualified, without a default schema',
      sql: 'create index i on other.x (a)',
      schema: '',
      statements: [{ kind: 'create index', tables: [ref('other', 'x')], sql: 'CREATE INDEX `i` ON `other`.`x` (`a`)' }],
    },
    {
      name: 'drop index',
      sql: 'DROP INDEX i ON t_1',
      statements: [{ kind: 'drop index', tables: [ref('shard_db', 't_1')], sql: 'DROP INDEX `i` ON `merged`.`t`' }],
    },
    {
      name: 'create database: routed as a schema, made IF NOT EXISTS, options kept',
      sql: 'CREATE DATABASE shard_db DEFAULT CHARACTER SET utf8mb4',
      schema: '',
      statements: [
        {
          kind: 'create database',
          tables: [ref('shard_db', '')],
          sql: 'CREATE DATABASE IF NOT EXISTS `merged` DEFAULT CHARACTER SET utf8mb4',
        },
      ],
    },
    {
      name: 'create schema',
      sql: 'create schema if not exists other',
      statements: [{ kind: 'create database', tables: [ref('other', '')], sql: 'CREATE SCHEMA IF NOT EXISTS `other`' }],
    },
    {
      name: 'drop database: made IF EXISTS',
      sql: 'DROP DATABASE shard_db',
      statements: [{ kind: 'drop database', tables: [ref('shard_db', '')], sql: 'DROP DATABASE IF EXISTS `merged`' }],
    },
    {
      name: 'drop schema if exists',
      sql: 'drop schema if exists other',
      statements: [{ kind: 'drop database', tables: [ref('other', '')], sql: 'DROP SCHEMA IF EXISTS `other`' }],
    },
    {
      name: 'leading comments and a trailing semicolon',
      sql: '/* from the app */ -- migration 42\n# really\nDROP TABLE t_1;',
      statements: [{ kind: 'drop table', tables: [ref('shard_db', 't_1')], sql: 'DROP TABLE IF EXISTS `merged`.`t`' }],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const statements = statementsOf(c.sql, c.schema ?? 'shard_db');
      assert.deepEqual(
        statements.map((s) => summary(s, mergeShards)),
        c.statements,
      );
      for (const s of statements) assert.equal(s.text, c.sql.trim());
    });
  }
});

describe('readDdl: what an ALTER TABLE does, in DM event names', () => {
  const cases: { sql: string; alterKinds: string[] }[] = [
    { sql: 'ALTER TABLE t ADD COLUMN c int', alterKinds: [] },
    { sql: 'ALTER TABLE t ADD c int FIRST', alterKinds: [] },
    { sql: 'ALTER TABLE t DROP COLUMN c', alterKinds: ['drop column'] },
    { sql: 'ALTER TABLE t DROP c', alterKinds: ['drop column'] },
    { sql: 'ALTER TABLE t MODIFY c bigint NOT NULL', alterKinds: ['modify column'] },
    { sql: 'ALTER TABLE t MODIFY COLUMN c int AFTER b', alterKinds: ['modify column', 'modify columns order'] },
    { sql: 'ALTER TABLE t CHANGE c d int', alterKinds: ['modify column', 'rename column'] },
    { sql: 'ALTER TABLE t CHANGE COLUMN c C int', alterKinds: ['modify column'] },
    { sql: 'ALTER TABLE t RENAME COLUMN c TO d', alterKinds: ['rename column'] },
    { sql: 'ALTER TABLE t ADD INDEX i (a)', alterKinds: ['modify constraint'] },
    { sql: 'ALTER TABLE t ADD UNIQUE KEY uk (a), DROP PRIMARY KEY', alterKinds: ['modify constraint', 'drop primary key'] },
    { sql: 'ALTER TABLE t ADD PRIMARY KEY (a)', alterKinds: ['modify constraint'] },
    { sql: 'ALTER TABLE t DROP INDEX i', alterKinds: ['drop index'] },
    { sql: 'ALTER TABLE t DROP KEY i', alterKinds: ['drop index'] },
    { sql: 'ALTER TABLE t DROP PRIMARY KEY', alterKinds: ['drop primary key'] },
    { sql: 'ALTER TABLE t DROP FOREIGN KEY fk', alterKinds: ['modify constraint'] },
    { sql: 'ALTER TABLE t ENGINE=InnoDB', alterKinds: ['modify storage engine'] },
    { sql: "ALTER TABLE t COMMENT='x'", alterKinds: [] },
    { sql: 'ALTER TABLE t DROP COLUMN a, DROP COLUMN b, ADD INDEX (c)', alterKinds: ['drop column', 'modify constraint'] },
  ];
  for (const c of cases) {
    test(c.sql, () => {
      const [statement, ...more] = statementsOf(c.sql, 'db');
      assert.equal(more.length, 0);
      assert.equal(statement?.kind, 'alter table');
      assert.deepEqual(statement?.alterKinds, c.alterKinds);
    });
  }
  test('statements other than ALTER TABLE have none', () => {
    for (const sql of ['CREATE TABLE t (a int)', 'DROP TABLE t', 'ALTER TABLE t RENAME TO u']) {
      assert.deepEqual(statementsOf(sql, 'db')[0]?.alterKinds, [], sql);
    }
  });
});

describe('readDdl: statements not about data are skipped, named', () => {
  const cases: [string, string][] = [
    ["GRANT SELECT ON db.* TO 'u'@'%'", 'GRANT SELECT'],
    ["REVOKE ALL PRIVILEGES ON *.* FROM 'u'@'%'", 'REVOKE ALL'],
    ["CREATE USER 'u'@'%' IDENTIFIED BY 'p'", 'CREATE USER'],
    ["ALTER USER 'u'@'%' IDENTIFIED BY 'p'", 'ALTER USER'],
    ["DROP USER IF EXISTS 'u'@'%'", 'DROP USER'],
    ['RENAME USER a TO b', 'RENAME USER'],
    ['CREATE ROLE r', 'CREATE ROLE'],
    ["SET PASSWORD FOR 'u'@'%' = PASSWORD('p')", 'SET PASSWORD'],
    ['CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1', 'CREATE TRIGGER'],
    ["CREATE OR REPLACE DEFINER='root'@'%' TRIGGER tr AFTER UPDATE ON t FOR EACH ROW BEGIN END", 'CREATE TRIGGER'],
    [
      '/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */',
      'CREATE TRIGGER',
    ],
    ['DROP TRIGGER IF EXISTS tr', 'DROP TRIGGER'],
    ['CREATE VIEW v AS SELECT 1', 'CREATE VIEW'],
    ['CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1', 'CREATE VIEW'],
    ['DROP VIEW v', 'DROP VIEW'],
    ['CREATE DEFINER=CURRENT_USER() PROCEDURE p() BEGIN SELECT 1; END', 'CREATE PROCEDURE'],
    ['CREATE PROCEDURE p() SELECT 1', 'CREATE PROCEDURE'],
    ['DROP PROCEDURE IF EXISTS p', 'DROP PROCEDURE'],
    ['CREATE FUNCTION f() RETURNS INT RETURN 1', 'CREATE FUNCTION'],
    ['CREATE DEFINER=`root`@`localhost` EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM t', 'CREATE EVENT'],
    ['ANALYZE TABLE t', 'ANALYZE TABLE'],
    ['OPTIMIZE TABLE t', 'OPTIMIZE TABLE'],
    ['REPAIR TABLE t', 'REPAIR TABLE'],
    ['FLUSH TABLES', 'FLUSH TABLES'],
    ['FLUSH PRIVILEGES', 'FLUSH PRIVILEGES'],
    ["INSTALL PLUGIN p SONAME 'p.so'", 'INSTALL PLUGIN'],
    ['CREATE TEMPORARY TABLE tt (a int)', 'CREATE TEMPORARY TABLE'],
    ['DROP TEMPORARY TABLE IF EXISTS tt', 'DROP TEMPORARY TABLE'],
  ];
  for (const [sql, reason] of cases) {
    test(sql, () => assert.deepEqual(readDdl(sql, 'db'), { type: 'skip', reason }));
  }
});

describe('readDdl: what it cannot read, and why', () => {
  const cases: { sql: string; schema?: string; reason: RegExp }[] = [
    { sql: 'ALTER TABLE t ALTER COLUMN a SET DEFAULT (a + 1)', reason: /cannot read it from "ALTER COLUMN a SET DEFAULT/ },
    { sql: 'ALTER TABLE t ALTER COLUMN a SET DEFAULT 3, ADD COLUMN b INT', reason: /cannot read it/ },
    { sql: 'ALTER TABLE t ALTER COLUMN a SET INVISIBLE', reason: /cannot read it/ },
    { sql: 'ALTER DATABASE d CHARACTER SET utf8mb4', reason: /cannot read it/ },
    { sql: 'DROP DATABASE `d` CASCADE', reason: /cannot read it from "`d`/ },
    { sql: 'CREATE TABLE t (a int) PARTITION BY HASH(a) PARTITIONS 4', reason: /cannot read it from "PARTITION BY/ },
    { sql: 'ALTER TABLE t RENAME TO other.t', reason: /cannot read it/ },
    { sql: 'CREATE OR REPLACE TABLE t (a int)', reason: /cannot read it/ },
    { sql: 'CREATE SEQUENCE s', reason: /cannot read it/ },
    { sql: 'SET STATEMENT max_statement_time=60 FOR ALTER TABLE t ADD c int', reason: /cannot read it/ },
    { sql: 'CREATE TABLE t2 AS SELECT * FROM t1', reason: /CREATE TABLE \.\.\. SELECT/ },
    { sql: 'ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (10))', reason: /PARTITION/ },
    { sql: 'ALTER TABLE t TRUNCATE PARTITION p1', reason: /PARTITION/ },
    { sql: 'INSERT INTO t VALUES (1)', reason: /INSERT is not DDL/ },
    { sql: 'BEGIN', reason: /not DDL/ },
    { sql: '/* nothing */', reason: /no statement/ },
    { sql: 'DROP TABLE t', schema: '', reason: /table t has no schema/ },
    { sql: 'ALTER TABLE db.t RENAME TO u', schema: '', reason: /new name u has no schema/ },
    // MySQL ran the contents of executable comments; the parser would take them for comments
    { sql: 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `d` /*!40100 DEFAULT CHARACTER SET latin1 */', reason: /executable comment/ },
    { sql: 'CREATE TABLE t (a int) /*M!100301 PAGE_CHECKSUM=1 */', reason: /executable comment/ },
    // the parser keeps numbers as JavaScript numbers
    { sql: 'CREATE TABLE t (a decimal(30,20) DEFAULT 1.23456789012345678901)', reason: /literal 1\.23456789012345678901/ },
    { sql: 'CREATE TABLE t (a double DEFAULT 1e3)', reason: /literal 1e3/ },
    // sqlify writes index names and table character sets that it cannot read back
    { sql: 'ALTER TABLE t ADD INDEX `my idx` (a)', reason: /renders it as .*ADD INDEX my idx/ },
    { sql: 'ALTER TABLE t DEFAULT CHARSET=utf8mb4', reason: /renders it as .*\[object Object\]/ },
    { sql: 'CREATE INDEX i USING BTREE ON t (a)', reason: /renders it as/ },
    // MariaDB's grammar reads RESTRICT as an alias
    { sql: 'DROP TABLE t RESTRICT', reason: /alias/ },
  ];
  for (const c of cases) {
    test(c.sql, () => {
      const reading = readDdl(c.sql, c.schema ?? 'db');
      assert.equal(reading.type, 'unreadable', JSON.stringify(reading));
      if (reading.type === 'unreadable') assert.match(reading.reason, c.reason);
    });
  }
});

describe('readDdl: quoted names round-trip', () => {
  const odd = ref('we`ird db', 'tä.b le`');
  const oddRoute: Route = (_schema, table) => (table === '' ? { schema: 'x`y z', table } : { schema: 'ü.s`', table: `${table} 2` });
  const cases: { sql: string; tables: TableRef[]; same: string; routed: string }[] = [
    {
      sql: 'CREATE TABLE `we``ird db`.`tä.b le``` (`c``1 ü` int, KEY `k1` (`c``1 ü`))',
      tables: [odd],
      same: 'CREATE TABLE IF NOT EXISTS `we``ird db`.`tä.b le``` (`c``1 ü` INT, KEY k1 (`c``1 ü`))',
      routed: 'CREATE TABLE IF NOT EXISTS `ü.s```.`tä.b le`` 2` (`c``1 ü` INT, KEY k1 (`c``1 ü`))',
    },
    {
      sql: 'DROP TABLE `tä.b le```',
      tables: [ref('we`ird db', 'tä.b le`')],
      same: 'DROP TABLE IF EXISTS `we``ird db`.`tä.b le```',
      routed: 'DROP TABLE IF EXISTS `ü.s```.`tä.b le`` 2`',
    },
    {
      sql: 'RENAME TABLE `a.b` TO `we``ird db`.`数据`',
      tables: [ref('we`ird db', 'a.b'), ref('we`ird db', '数据')],
      same: 'RENAME TABLE `we``ird db`.`a.b` TO `we``ird db`.`数据`',
      routed: 'RENAME TABLE `ü.s```.`a.b 2` TO `ü.s```.`数据 2`',
    },
    {
      sql: 'ALTER TABLE `tä.b le``` CHANGE `a b` `c``d` int',
      tables: [odd],
      same: 'ALTER TABLE `we``ird db`.`tä.b le``` CHANGE `a b` `c``d` INT',
      routed: 'ALTER TABLE `ü.s```.`tä.b le`` 2` CHANGE `a b` `c``d` INT',
    },
    {
      sql: 'CREATE DATABASE `we``ird db`',
      tables: [ref('we`ird db', '')],
      same: 'CREATE DATABASE IF NOT EXISTS `we``ird db`',
      routed: 'CREATE DATABASE IF NOT EXISTS `x``y z`',
    },
    {
      sql: 'DROP DATABASE plain',
      tables: [ref('plain', '')],
      same: 'DROP DATABASE IF EXISTS `plain`',
      routed: 'DROP DATABASE IF EXISTS `x``y z`',
    },
  ];
  for (const c of cases) {
    test(c.sql, () => {
      const [statement, ...more] = statementsOf(c.sql, 'we`ird db');
      assert.equal(more.length, 0);
      assert.deepEqual(statement?.tables, c.tables);
      assert.equal(statement?.render(sameNames), c.same);
      assert.equal(statement?.render(oddRoute), c.routed);
    });
  }
  test('what it renders reads back as the routed statement', () => {
    const [statement] = statementsOf('CREATE TABLE `tä.b le``` LIKE `a b`', 'we`ird db');
    const again = statementsOf(statement?.render(oddRoute) ?? '', '');
    assert.deepEqual(again[0]?.tables, [ref('ü.s`', 'tä.b le` 2'), ref('ü.s`', 'a b 2')]);
  });
});

describe('readDdl: render', () => {
  test('asks the route about every table name, with source names', () => {
    const [statement] = statementsOf('CREATE TABLE t_3 (a int, FOREIGN KEY (a) REFERENCES other.p (id))', 'shard_db');
    const asked: TableRef[] = [];
    statement?.render((schema, table) => {
      asked.push({ schema, table });
      return { schema, table };
    });
    assert.deepEqual(asked, [ref('shard_db', 't_3'), ref('other', 'p')]);
  });
  test('renders again for each route', () => {
    const [statement] = statementsOf('TRUNCATE t_1', 'shard_db');
    assert.equal(statement?.render(mergeShards), 'TRUNCATE TABLE `merged`.`t`');
    assert.equal(statement?.render(sameNames), 'TRUNCATE TABLE `shard_db`.`t_1`');
  });
});

describe('readDdl: statements of a fixed shape the parser cannot read, read from their tokens', () => {
  const route = (schema: string, table: string) => ({
    schema: schema === 'shop' ? 'all shops' : schema,
    table: table === '' ? '' : `${table}_all`,
  });
  const cases: {
    sql: string;
    schema?: string;
    kind: string;
    tables: { schema: string; table: string }[];
    alterKinds: string[];
    rendered: string;
  }[] = [
    {
      sql: 'DROP DATABASE `shop`',
      kind: 'drop database',
      tables: [{ schema: 'shop', table: '' }],
      alterKinds: [],
      rendered: 'DROP DATABASE IF EXISTS `all shops`',
    },
    {
      sql: 'drop schema if exists `we``ird 名`',
      kind: 'drop database',
      tables: [{ schema: 'we`ird 名', table: '' }],
      alterKinds: [],
      rendered: 'DROP DATABASE IF EXISTS `we``ird 名`',
    },
    {
      sql: 'ALTER TABLE t ALTER COLUMN a SET DEFAULT 3',
      schema: 'shop',
      kind: 'alter table',
      tables: [{ schema: 'shop', table: 't' }],
      alterKinds: ['modify default value'],
      rendered: 'ALTER TABLE `all shops`.`t_all` ALTER COLUMN `a` SET DEFAULT 3',
    },
    {
      sql: "alter table `app`.`t x` alter a drop default, alter column `b``c` set default 'it''s', ALTER d SET DEFAULT -1.50, ALTER e SET DEFAULT NULL",
      kind: 'alter table',
      tables: [{ schema: 'app', table: 't x' }],
      alterKinds: ['modify default value'],
      rendered:
        "ALTER TABLE `app`.`t x_all` ALTER COLUMN `a` DROP DEFAULT, ALTER COLUMN `b``c` SET DEFAULT 'it''s', ALTER COLUMN `d` SET DEFAULT -1.50, ALTER COLUMN `e` SET DEFAULT NULL",
    },
  ];
  for (const c of cases) {
    test(c.sql, () => {
      const reading = readDdl(c.sql, c.schema ?? 'db');
      assert.equal(reading.type, 'ddl', JSON.stringify(reading));
      if (reading.type !== 'ddl') return;
      const [statement] = reading.statements;
      assert.equal(reading.statements.length, 1);
      assert.deepEqual(
        [statement!.kind, statement!.tables, statement!.alterKinds, statement!.text],
        [c.kind, c.tables, c.alterKinds, c.sql],
      );
      assert.equal(statement!.render(route), c.rendered);
    });
  }

  test('an unqualified table with no default schema is not read', () => {
    assert.equal(readDdl('ALTER TABLE t ALTER COLUMN a SET DEFAULT 3', '').type, 'unreadable');
  });
});

describe("readDdl: which statements only add what other shards' rows may leave out", () => {
  const cases: [string, boolean][] = [
    ['ALTER TABLE t ADD COLUMN a INT', true],
    ['ALTER TABLE t ADD COLUMN a INT NULL, ADD COLUMN b INT NOT NULL DEFAULT 3', true],
    ['ALTER TABLE t ADD INDEX i (a), ADD KEY k (b)', true],
    ['CREATE INDEX i ON t (a)', true],
    ['ALTER TABLE t ADD COLUMN a INT NOT NULL', false],
    ['ALTER TABLE t ADD UNIQUE KEY u (a)', false],
    ['CREATE UNIQUE INDEX u ON t (a)', false],
    ['ALTER TABLE t ADD COLUMN a INT, DROP COLUMN b', false],
    ['ALTER TABLE t MODIFY COLUMN a BIGINT', false],
    ['ALTER TABLE t ALTER COLUMN a SET DEFAULT 1', false],
    ['DROP INDEX i ON t', false],
    ['CREATE TABLE t (a INT)', false],
  ];
  for (const [sql, additive] of cases) {
    test(`${sql} → ${additive}`, () => {
      const reading = readDdl(sql, 'db');
      assert.equal(reading.type, 'ddl', JSON.stringify(reading));
      if (reading.type === 'ddl')
        assert.deepEqual(
          reading.statements.map((s) => s.additive),
          [additive],
        );
    });
  }
});
