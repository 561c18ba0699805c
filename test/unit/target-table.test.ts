import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { targetCreateSql } from '../../src/processors/load/target-table.js';
import type { TableRef } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';

// What SHOW CREATE TABLE returns after the head. Deliberately full of text that a careless
// rewrite would touch: backticks, `$` sequences special to String.prototype.replace, another
// "CREATE TABLE `x` (" inside a comment, CJK, trailing whitespace, partition comments.
const BODY =
  '\n' +
  '  `id` bigint unsigned NOT NULL AUTO_INCREMENT,\n' +
  "  `we``ird col` varchar(20) COLLATE utf8mb4_bin DEFAULT '$& $1 $$ $` $'' CREATE TABLE `x` (',\n" +
  "  `名前` text COMMENT 'コメント 😀',\n" +
  '  PRIMARY KEY (`id`),\n' +
  '  UNIQUE KEY `u` (`we``ird col`)\n' +
  ") ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci COMMENT='t\\\\x'\n" +
  '/*!50100 PARTITION BY HASH (`id`)\nPARTITIONS 4 */  ';

const SOURCE_NAMES: string[] = ['t', 'a``b', 'x`` (', 'ends with ``', '``', 'a.b', 'with space', '表 名', 'dollar$$&'];

describe('targetCreateSql: renames to the routed target, keeps the rest', () => {
  const targets: { name: string; target: TableRef; head: string }[] = [
    { name: 'plain', target: { schema: 'db', table: 't' }, head: 'CREATE TABLE IF NOT EXISTS `db`.`t` (' },
    { name: 'backticks', target: { schema: 'we`ird', table: '`t`' }, head: 'CREATE TABLE IF NOT EXISTS `we``ird`.```t``` (' },
    { name: 'dots', target: { schema: 'a.b', table: 'c.d' }, head: 'CREATE TABLE IF NOT EXISTS `a.b`.`c.d` (' },
    { name: 'spaces and parentheses', target: { schema: 'my db', table: 'x ( y' }, head: 'CREATE TABLE IF NOT EXISTS `my db`.`x ( y` (' },
    { name: 'CJK', target: { schema: '数据库', table: '表 名' }, head: 'CREATE TABLE IF NOT EXISTS `数据库`.`表 名` (' },
    {
      name: 'a $ inside names (not a replacement pattern)',
      target: { schema: 'd$b', table: 'order$hist$1' },
      head: 'CREATE TABLE IF NOT EXISTS `d$b`.`order$hist$1` (',
    },
  ];
  for (const { name, target, head } of targets) {
    for (const source of SOURCE_NAMES) {
      test(`${name}, source \`${source}\``, () => {
        const src = `CREATE TABLE \`${source}\` (${BODY}`;
        assert.equal(targetCreateSql(src, target), head + BODY);
      });
    }
  }

  // `$$`, `$&`, `` $` `` and `$'` are replacement patterns for String.prototype.replace; names
  // holding them are legal in MySQL and must come out literally.
  const dollarTargets: { name: string; target: TableRef; head: string }[] = [
    { name: 'a schema name ending in $', target: { schema: 'db$', table: 't' }, head: 'CREATE TABLE IF NOT EXISTS `db$`.`t` (' },
    { name: 'a table name ending in $', target: { schema: 'db', table: 'SYS$' }, head: 'CREATE TABLE IF NOT EXISTS `db`.`SYS$` (' },
    { name: '$$ in the table name', target: { schema: 'db', table: 't$$' }, head: 'CREATE TABLE IF NOT EXISTS `db`.`t$$` (' },
    { name: '$& in the table name', target: { schema: 'db', table: 'a$&b' }, head: 'CREATE TABLE IF NOT EXISTS `db`.`a$&b` (' },
    { name: "$' in the table name", target: { schema: 'db', table: "x$'" }, head: "CREATE TABLE IF NOT EXISTS `db`.`x$'` (" },
    { name: '$` in the schema name', target: { schema: 'db$`', table: 't' }, head: 'CREATE TABLE IF NOT EXISTS `db$```.`t` (' },
  ];
  for (const { name, target, head } of dollarTargets) {
    test(`${name} is kept literally`, () => {
      const src = `CREATE TABLE \`src\` (${BODY}`;
      assert.equal(targetCreateSql(src, target), head + BODY);
    });
  }

  test('only the head is replaced, even if the body repeats it', () => {
    const src = "CREATE TABLE `t` (\n  `c` int COMMENT 'CREATE TABLE `t` ('\n)";
    assert.equal(
      targetCreateSql(src, { schema: 's', table: 'u' }),
      "CREATE TABLE IF NOT EXISTS `s`.`u` (\n  `c` int COMMENT 'CREATE TABLE `t` ('\n)",
    );
  });
});

describe('targetCreateSql: rejects what is not a SHOW CREATE TABLE', () => {
  const target: TableRef = { schema: 'tgt db', table: 'we`ird.表' };
  const label = '`tgt db`.`we``ird.表`';
  const bad: [string, string][] = [
    ['empty', ''],
    ['unquoted name (sql_quote_show_create=OFF)', 'CREATE TABLE t (\n  id int\n)'],
    ['ANSI_QUOTES', 'CREATE TABLE "t" (\n  "id" int\n)'],
    ['lower case', 'create table `t` (\n  `id` int\n)'],
    ['leading whitespace', ' CREATE TABLE `t` (\n  `id` int\n)'],
    ['a view', 'CREATE ALGORITHM=UNDEFINED DEFINER=`u`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1'],
    ['temporary table', 'CREATE TEMPORARY TABLE `t` (\n  `id` int\n)'],
    ['already IF NOT EXISTS', 'CREATE TABLE IF NOT EXISTS `t` (\n  `id` int\n)'],
    ['schema-qualified', 'CREATE TABLE `s`.`t` (\n  `id` int\n)'],
    ['badly quoted name (lone backtick inside)', 'CREATE TABLE `a` b` (\n  `id` int\n)'],
    ['empty name', 'CREATE TABLE `` (\n  `id` int\n)'],
    ['CREATE TABLE ... LIKE', 'CREATE TABLE `t` LIKE `u`'],
    ['no space before the parenthesis', 'CREATE TABLE `t`(\n  `id` int\n)'],
  ];
  for (const [name, sql] of bad) {
    test(name, () => {
      assert.throws(
        () => targetCreateSql(sql, target),
        (err: unknown) => {
          assert.ok(err instanceof DmqError, 'a DmqError');
          assert.equal(err.code, 'LOAD_FAILED');
          assert.ok(err.message.includes(label), `message names the table: ${err.message}`);
          assert.equal(err.where, label);
          assert.ok(err.workaround && err.workaround.length > 0, 'says what to do');
          return true;
        },
      );
    });
  }
});

test("targetCreateSql puts the route's extract columns first, as strings that default to empty", () => {
  const sql = targetCreateSql(`CREATE TABLE \`t_1\` (${BODY}`, { schema: 'merged', table: 't' }, ['c_table', 'c `src`']);
  assert.ok(
    sql.startsWith(
      "CREATE TABLE IF NOT EXISTS `merged`.`t` (\n  `c_table` VARCHAR(255) NOT NULL DEFAULT '',\n  `c ``src``` VARCHAR(255) NOT NULL DEFAULT '',\n  `id` bigint",
    ),
    sql,
  );
  assert.ok(sql.endsWith(BODY.slice(BODY.indexOf('`id`'))));
});
