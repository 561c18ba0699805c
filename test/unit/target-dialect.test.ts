import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adaptDefinition, nearestCollation, type TargetDialect } from '../../src/shared/ddl/target-dialect.js';

/** What tidb-server v8.5.6 answers to SHOW COLLATION and SHOW CHARACTER SET (new collations on). */
const TIDB: TargetDialect = {
  kind: 'tidb',
  version: '8.0.11-TiDB-v8.5.6',
  collations: new Map(
    [
      ['ascii_bin', 'ascii'],
      ['binary', 'binary'],
      ['gbk_bin', 'gbk'],
      ['gbk_chinese_ci', 'gbk'],
      ['latin1_bin', 'latin1'],
      ['utf8_bin', 'utf8'],
      ['utf8_general_ci', 'utf8'],
      ['utf8_unicode_ci', 'utf8'],
      ['utf8mb4_0900_ai_ci', 'utf8mb4'],
      ['utf8mb4_0900_bin', 'utf8mb4'],
      ['utf8mb4_bin', 'utf8mb4'],
      ['utf8mb4_general_ci', 'utf8mb4'],
      ['utf8mb4_unicode_ci', 'utf8mb4'],
    ].map(([c, s]) => [c!, s!] as const),
  ),
  charsetDefaults: new Map([
    ['ascii', 'ascii_bin'],
    ['binary', 'binary'],
    ['gbk', 'gbk_chinese_ci'],
    ['latin1', 'latin1_bin'],
    ['utf8', 'utf8_bin'],
    ['utf8mb4', 'utf8mb4_bin'],
  ]),
};

const MARIADB: TargetDialect = {
  kind: 'mariadb',
  version: '10.11.6-MariaDB',
  collations: new Map([
    ['latin1_swedish_ci', 'latin1'],
    ['utf8mb4_general_ci', 'utf8mb4'],
    ['utf8mb3_general_ci', 'utf8mb3'],
  ]),
  charsetDefaults: new Map([
    ['latin1', 'latin1_swedish_ci'],
    ['utf8mb4', 'utf8mb4_general_ci'],
    ['utf8mb3', 'utf8mb3_general_ci'],
  ]),
};

describe('nearestCollation', () => {
  const cases: [string, string | undefined][] = [
    ['utf8mb4_general_ci', undefined],
    ['UTF8MB4_BIN', undefined],
    ['latin1_swedish_ci', 'latin1_bin'],
    ['latin1_general_cs', 'latin1_bin'],
    ['utf8mb4_unicode_520_ci', 'utf8mb4_general_ci'],
    ['utf8mb4_uca1400_ai_ci', 'utf8mb4_general_ci'],
    ['utf8mb3_general_ci', 'utf8_general_ci'],
    ['utf8mb3_bin', 'utf8_bin'],
    ['ascii_general_ci', 'ascii_bin'],
    ['koi8r_general_ci', undefined],
  ];
  for (const [from, to] of cases) test(`${from} → ${to ?? '(as is / none)'}`, () => assert.equal(nearestCollation(from, TIDB), to));
});

describe('adaptDefinition for TiDB', () => {
  const cases: { name: string; sql: string; out: string; changes: number }[] = [
    {
      name: 'a latin1 column of MariaDB keeps its charset with the collation TiDB has',
      sql: 'CREATE TABLE `t` (\n  `l1` varchar(100) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
      out: 'CREATE TABLE `t` (\n  `l1` varchar(100) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
      changes: 1,
    },
    {
      name: 'a table collation after COLLATE=, and utf8mb3 as TiDB spells it',
      sql: 'CREATE TABLE `t` (`c` char(3)) DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_unicode_520_ci',
      out: 'CREATE TABLE `t` (`c` char(3)) DEFAULT CHARSET=utf8 COLLATE=utf8_general_ci',
      changes: 1,
    },
    {
      name: 'words in strings, comments and names are not touched',
      sql: "CREATE TABLE `latin1_swedish_ci` (`uuid` int COMMENT 'COLLATE latin1_swedish_ci uuid', `c` int DEFAULT 0 /* COLLATE latin1_swedish_ci */)",
      out: "CREATE TABLE `latin1_swedish_ci` (`uuid` int COMMENT 'COLLATE latin1_swedish_ci uuid', `c` int DEFAULT 0 /* COLLATE latin1_swedish_ci */)",
      changes: 0,
    },
    {
      name: "MariaDB's UUID, INET4 and INET6 become text columns of their width",
      sql: 'CREATE TABLE `t` (`u` uuid NOT NULL, `a` inet4 DEFAULT NULL, `b` inet6, PRIMARY KEY (`u`))',
      out: 'CREATE TABLE `t` (`u` CHAR(36) NOT NULL, `a` VARCHAR(15) DEFAULT NULL, `b` VARCHAR(45), PRIMARY KEY (`u`))',
      changes: 3,
    },
    {
      name: 'system versioning, COMPRESSED, Aria and its options are dropped',
      sql: 'CREATE TABLE `t` (`id` int NOT NULL, `b` blob COMPRESSED, `c` int WITHOUT SYSTEM VERSIONING) ENGINE=Aria DEFAULT CHARSET=utf8mb4 PAGE_CHECKSUM=1 TRANSACTIONAL=1 WITH SYSTEM VERSIONING',
      out: 'CREATE TABLE `t` (`id` int NOT NULL, `b` blob , `c` int ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4   ',
      changes: 6,
    },
    {
      name: 'an ALTER of a replicated DDL gets the same collations',
      sql: 'ALTER TABLE `app`.`t` ADD COLUMN `n` varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci',
      out: 'ALTER TABLE `app`.`t` ADD COLUMN `n` varchar(10) CHARACTER SET latin1 COLLATE latin1_bin',
      changes: 1,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const adapted = adaptDefinition(c.sql, TIDB);
      assert.ok(adapted.ok);
      assert.equal(adapted.sql, c.out);
      assert.equal(adapted.changes.length, c.changes, adapted.changes.join('\n'));
    });
  }

  test('a spatial column is refused with the column named and a way out', () => {
    const adapted = adaptDefinition('CREATE TABLE `t` (`id` int, `where` point NOT NULL, SPATIAL KEY (`where`))', TIDB);
    assert.equal(adapted.ok, false);
    assert.ok(!adapted.ok && /`where` is POINT/.test(adapted.reason) && /block-allow-list/.test(adapted.workaround));
  });

  test('a collation named as a case-insensitive one that becomes binary says so', () => {
    const adapted = adaptDefinition('CREATE TABLE `t` (`c` char(1) COLLATE latin1_swedish_ci)', TIDB);
    assert.ok(adapted.ok && /case-sensitive/.test(adapted.changes[0]!));
  });
});

test('a MariaDB target takes MariaDB definitions as they are', () => {
  const sql = 'CREATE TABLE `t` (`u` uuid, `c` char(1) CHARACTER SET latin1 COLLATE latin1_swedish_ci) ENGINE=Aria PAGE_CHECKSUM=1';
  assert.deepEqual(adaptDefinition(sql, MARIADB), { ok: true, sql, changes: [] });
});
