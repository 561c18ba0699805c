import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventFilterRule, FilterAction } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';
import { makeEventFilter, type EventToFilter } from '../../src/shared/filter/binlog-event.js';

const rule = (
  name: string,
  action: FilterAction,
  schemaPattern: string,
  opts: { table?: string; events?: string[]; sql?: string[] } = {},
): EventFilterRule => ({
  name,
  schemaPattern,
  ...(opts.table === undefined ? {} : { tablePattern: opts.table }),
  events: opts.events ?? [],
  sqlPattern: opts.sql ?? [],
  action,
});

const row = (schema: string, table: string, event: string): EventToFilter => ({ schema, table, event });
const ddl = (schema: string, table: string, event: string, sql: string): EventToFilter => ({ schema, table, event, sql });

interface Case {
  name: string;
  rules: EventFilterRule[];
  caseSensitive?: boolean;
  event: EventToFilter;
  action: FilterAction;
  /** The deciding rule; absent means none. */
  by?: string;
}

const ignoreDeletes = rule('no-deletes', 'Ignore', 'shop', { events: ['delete'] });
const ignoreDropDb = rule('keep-db', 'Ignore', 'shop', { table: 't_*', events: ['drop database'] });
const ignoreTruncate = rule('no-truncate', 'Ignore', 'db', { events: ['truncate table'] });
const errorTruncate = rule('stop-truncate', 'Error', 'db', { events: ['truncate table'] });
const doAll = rule('allow-all', 'Do', 'db', { events: ['all'] });
const procedures = rule('procedures', 'Ignore', '*', { sql: ['^DROP\\s+PROCEDURE', '^CREATE\\s+PROCEDURE'] });

const cases: Case[] = [
  // selection
  { name: 'no rules: Do', rules: [], event: row('db', 't', 'insert'), action: 'Do' },
  { name: 'no rules: Do for DDL too', rules: [], event: ddl('db', 't', 'drop table', 'DROP TABLE t'), action: 'Do' },
  {
    name: 'a schema-only rule covers every table of the schema',
    rules: [ignoreDeletes],
    event: row('shop', 'orders', 'delete'),
    action: 'Ignore',
    by: 'no-deletes',
  },
  {
    name: 'a schema-only rule covers the schema itself',
    rules: [rule('r', 'Ignore', 'shop', { events: ['drop database'] })],
    event: ddl('shop', '', 'drop database', 'DROP DATABASE shop'),
    action: 'Ignore',
    by: 'r',
  },
  { name: 'a schema-only rule leaves other schemas alone', rules: [ignoreDeletes], event: row('shop2', 'orders', 'delete'), action: 'Do' },
  {
    name: 'a table rule does not cover the schema itself',
    rules: [ignoreDropDb],
    event: ddl('shop', '', 'drop database', 'DROP DATABASE shop'),
    action: 'Do',
  },
  {
    name: 'a table rule with table-pattern * covers the schema itself (as DM)',
    rules: [rule('r', 'Ignore', 'shop', { table: '*', events: ['drop database'] })],
    event: ddl('shop', '', 'drop database', 'DROP DATABASE shop'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'a table rule covers matching tables',
    rules: [rule('r', 'Ignore', 'shop', { table: 't_*', events: ['insert'] })],
    event: row('shop', 't_1', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'a table rule leaves other tables alone',
    rules: [rule('r', 'Ignore', 'shop', { table: 't_*', events: ['insert'] })],
    event: row('shop', 'u_1', 'insert'),
    action: 'Do',
  },
  {
    name: 'wildcards ? and [...]',
    rules: [rule('r', 'Ignore', 'db_?', { table: 't[0-9]', events: ['insert'] })],
    event: row('db_a', 't7', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'wildcard ? is one character',
    rules: [rule('r', 'Ignore', 'db_?', { events: ['insert'] })],
    event: row('db_ab', 't', 'insert'),
    action: 'Do',
  },
  {
    name: '~regex patterns',
    rules: [rule('r', 'Ignore', '~^shard_\\d+$', { table: '~^t_', events: ['insert'] })],
    event: row('shard_12', 't_x', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: '~regex patterns that do not match',
    rules: [rule('r', 'Ignore', '~^shard_\\d+$', { events: ['insert'] })],
    event: row('shard_x', 't', 'insert'),
    action: 'Do',
  },
  // case sensitivity
  {
    name: 'names match case-insensitively by default',
    rules: [rule('r', 'Ignore', 'Shop', { table: 'Orders', events: ['insert'] })],
    event: row('SHOP', 'orders', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'names match case-sensitively when asked',
    rules: [rule('r', 'Ignore', 'Shop', { events: ['insert'] })],
    caseSensitive: true,
    event: row('shop', 't', 'insert'),
    action: 'Do',
  },
  {
    name: 'case-sensitive exact case still matches',
    rules: [rule('r', 'Ignore', 'Shop', { events: ['insert'] })],
    caseSensitive: true,
    event: row('Shop', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'sql-pattern ignores case even when names are case-sensitive (as DM)',
    rules: [procedures],
    caseSensitive: true,
    event: ddl('db', '', '', 'drop procedure p'),
    action: 'Ignore',
    by: 'procedures',
  },
  // events
  {
    name: "'all' covers DML",
    rules: [rule('r', 'Ignore', 'db', { events: ['all'] })],
    event: row('db', 't', 'update'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'all' covers DDL",
    rules: [rule('r', 'Ignore', 'db', { events: ['all'] })],
    event: ddl('db', 't', 'create table', 'CREATE TABLE t (a int)'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'all dml' covers insert",
    rules: [rule('r', 'Ignore', 'db', { events: ['all dml'] })],
    event: row('db', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'all dml' does not cover DDL",
    rules: [rule('r', 'Ignore', 'db', { events: ['all dml'] })],
    event: ddl('db', 't', 'create table', 'CREATE TABLE t (a int)'),
    action: 'Do',
  },
  {
    name: "'all ddl' covers truncate table",
    rules: [rule('r', 'Ignore', 'db', { events: ['all ddl'] })],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'all ddl' does not cover DML",
    rules: [rule('r', 'Ignore', 'db', { events: ['all ddl'] })],
    event: row('db', 't', 'update'),
    action: 'Do',
  },
  {
    name: 'a listed event',
    rules: [ignoreTruncate],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'no-truncate',
  },
  { name: 'an unlisted event', rules: [ignoreTruncate], event: ddl('db', 't', 'drop table', 'DROP TABLE t'), action: 'Do' },
  {
    name: "'incompatible ddl changes' covers drop column",
    rules: [rule('r', 'Ignore', 'db', { events: ['incompatible ddl changes'] })],
    event: ddl('db', 't', 'drop column', 'ALTER TABLE t DROP c'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'incompatible ddl changes' covers drop table",
    rules: [rule('r', 'Ignore', 'db', { events: ['incompatible ddl changes'] })],
    event: ddl('db', 't', 'drop table', 'DROP TABLE t'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'incompatible ddl changes' does not cover create table",
    rules: [rule('r', 'Ignore', 'db', { events: ['incompatible ddl changes'] })],
    event: ddl('db', 't', 'create table', 'CREATE TABLE t (a int)'),
    action: 'Do',
  },
  // 'none' groups
  { name: "'none' lists nothing", rules: [rule('r', 'Ignore', 'db', { events: ['none'] })], event: row('db', 't', 'insert'), action: 'Do' },
  {
    name: "'none' in a Do rule lets nothing through",
    rules: [rule('r', 'Do', 'db', { events: ['none'] })],
    event: row('db', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'none' before an event wins",
    rules: [rule('r', 'Ignore', 'db', { events: ['none', 'insert'] })],
    event: row('db', 't', 'insert'),
    action: 'Do',
  },
  {
    name: "an event before 'none' wins",
    rules: [rule('r', 'Ignore', 'db', { events: ['insert', 'none'] })],
    event: row('db', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'none ddl' with 'all dml': DML listed",
    rules: [rule('r', 'Ignore', 'db', { events: ['all dml', 'none ddl'] })],
    event: row('db', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: "'none ddl' with 'all dml': DDL not listed",
    rules: [rule('r', 'Ignore', 'db', { events: ['all dml', 'none ddl'] })],
    event: ddl('db', 't', 'create index', 'CREATE INDEX i ON t (a)'),
    action: 'Do',
  },
  {
    name: "'none dml' stops DML before a later event",
    rules: [rule('r', 'Ignore', 'db', { events: ['none dml', 'insert'] })],
    event: row('db', 't', 'insert'),
    action: 'Do',
  },
  {
    name: "'none dml' does not stop DDL",
    rules: [rule('r', 'Ignore', 'db', { events: ['none dml', 'create table'] })],
    event: ddl('db', 't', 'create table', 'CREATE TABLE t (a int)'),
    action: 'Ignore',
    by: 'r',
  },
  // sql-pattern
  {
    name: 'sql-pattern matches a statement of no event type',
    rules: [procedures],
    event: ddl('db', '', '', 'CREATE PROCEDURE p() BEGIN END'),
    action: 'Ignore',
    by: 'procedures',
  },
  {
    name: 'sql-pattern that does not match',
    rules: [procedures],
    event: ddl('db', '', '', 'CREATE FUNCTION f() RETURNS int RETURN 1'),
    action: 'Do',
  },
  {
    name: 'sql-pattern matches a classified DDL',
    rules: [rule('r', 'Ignore', 'db', { sql: ['ADD\\s+PARTITION'] })],
    event: ddl('db', 't', 'alter table', 'ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (10))'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'sql-pattern matches anywhere unless anchored',
    rules: [rule('r', 'Ignore', 'db', { sql: ['drop'] })],
    event: ddl('db', 't', 'alter table', 'ALTER TABLE t DROP c'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'sql-pattern never matches DML, text or not',
    rules: [rule('r', 'Ignore', 'db', { sql: ['^insert'] })],
    event: { schema: 'db', table: 't', event: 'insert', sql: 'INSERT INTO t VALUES (1)' },
    action: 'Do',
  },
  {
    name: "a statement of no event type escapes 'all'",
    rules: [rule('r', 'Ignore', 'db', { events: ['all'] })],
    event: ddl('db', '', '', 'CREATE PROCEDURE p() BEGIN END'),
    action: 'Do',
  },
  // Do is an allow list
  {
    name: 'Do lets listed events through',
    rules: [rule('r', 'Do', 'db', { events: ['all dml'] })],
    event: row('db', 't', 'insert'),
    action: 'Do',
    by: 'r',
  },
  {
    name: 'Do ignores unlisted events',
    rules: [rule('r', 'Do', 'db', { events: ['all dml'] })],
    event: ddl('db', 't', 'create table', 'CREATE TABLE t (a int)'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'Do with sql-pattern needs both the event and the text',
    rules: [rule('r', 'Do', 'db', { events: ['all'], sql: ['^ALTER\\s+TABLE\\s+\\S+\\s+ADD'] })],
    event: ddl('db', 't', 'alter table', 'ALTER TABLE t DROP c'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'Do with sql-pattern: both hold',
    rules: [rule('r', 'Do', 'db', { events: ['all'], sql: ['^ALTER\\s+TABLE\\s+\\S+\\s+ADD'] })],
    event: ddl('db', 't', 'alter table', 'ALTER TABLE t ADD c int'),
    action: 'Do',
    by: 'r',
  },
  {
    name: 'Do with sql-pattern: DML is judged by event only',
    rules: [rule('r', 'Do', 'db', { events: ['all'], sql: ['^ALTER'] })],
    event: row('db', 't', 'insert'),
    action: 'Do',
    by: 'r',
  },
  {
    name: 'Do with only sql-pattern ignores classified events (as DM)',
    rules: [rule('r', 'Do', 'db', { sql: ['^ALTER'] })],
    event: row('db', 't', 'insert'),
    action: 'Ignore',
    by: 'r',
  },
  {
    name: 'Do without sql-pattern lets a statement of no event type through',
    rules: [rule('r', 'Do', 'db', { events: ['all dml'] })],
    event: ddl('db', '', '', 'CREATE PROCEDURE p() BEGIN END'),
    action: 'Do',
    by: 'r',
  },
  {
    name: 'a schema-level Do rule vets the events of every table in the schema too (as DM)',
    rules: [
      rule('do-schema', 'Do', 'test_*', { events: ['create database'] }),
      rule('do-table', 'Do', 'test_*', { table: 't_*', events: ['create table', 'all dml'] }),
    ],
    event: row('test_1', 't_1', 'insert'),
    action: 'Ignore',
    by: 'do-schema',
  },
  // Error, and several rules at once
  { name: 'Error', rules: [errorTruncate], event: ddl('db', 't', 'truncate table', 'TRUNCATE t'), action: 'Error', by: 'stop-truncate' },
  { name: 'Error that does not fire', rules: [errorTruncate], event: row('db', 't', 'delete'), action: 'Do' },
  {
    name: 'Error by sql-pattern',
    rules: [rule('r', 'Error', 'db', { sql: ['^DROP'] })],
    event: ddl('db', 't', 'drop table', 'DROP TABLE t'),
    action: 'Error',
    by: 'r',
  },
  {
    name: 'Ignore beats Error',
    rules: [errorTruncate, ignoreTruncate],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'no-truncate',
  },
  {
    name: 'Ignore beats Error in either order',
    rules: [ignoreTruncate, errorTruncate],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'no-truncate',
  },
  {
    name: 'Error beats Do',
    rules: [doAll, errorTruncate],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Error',
    by: 'stop-truncate',
  },
  {
    name: 'Ignore beats Do',
    rules: [doAll, ignoreTruncate],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'no-truncate',
  },
  {
    name: 'a Do rule leaving the event out beats Error',
    rules: [errorTruncate, rule('dml-only', 'Do', 'db', { events: ['all dml'] })],
    event: ddl('db', 't', 'truncate table', 'TRUNCATE t'),
    action: 'Ignore',
    by: 'dml-only',
  },
  {
    name: 'Do rules that all let it through: the first one is named',
    rules: [rule('a', 'Do', 'db', { events: ['insert'] }), rule('b', 'Do', 'db', { table: 't', events: ['all dml'] })],
    event: row('db', 't', 'insert'),
    action: 'Do',
    by: 'a',
  },
  { name: 'rules that do not fire decide nothing', rules: [ignoreTruncate, errorTruncate], event: row('db', 't', 'insert'), action: 'Do' },
];

describe('binlog event filter', () => {
  for (const c of cases) {
    test(c.name, () => {
      const filter = makeEventFilter(c.rules, c.caseSensitive ?? false);
      assert.deepEqual(filter(c.event), c.by === undefined ? { action: c.action } : { action: c.action, rule: c.by });
    });
  }

  test('a bad sql-pattern is a config error naming the rule and the pattern', () => {
    const rules = [rule('bad', 'Ignore', 'db', { sql: ['^DROP', '(unclosed'] })];
    assert.throws(
      () => makeEventFilter(rules, false),
      (err: unknown) => {
        assert.ok(err instanceof DmqError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.where, 'filters.bad.sql-pattern[1]');
        assert.match(err.message, /invalid regular expression "filters\.bad\.sql-pattern\[1\]"/);
        return true;
      },
    );
  });

  test('a bad name pattern is a config error', () => {
    assert.throws(
      () => makeEventFilter([rule('r', 'Ignore', '~(db', { events: ['all'] })], false),
      (err: unknown) => {
        assert.ok(err instanceof DmqError);
        assert.equal(err.code, 'CONFIG_INVALID');
        return true;
      },
    );
  });

  test('an unknown event type is a bug, not a verdict', () => {
    const filter = makeEventFilter([], false);
    assert.throws(
      () => filter(row('db', 't', 'all dml')),
      (err: unknown) => err instanceof DmqError && err.code === 'INTERNAL',
    );
    assert.throws(
      () => filter(row('db', 't', 'replace')),
      (err: unknown) => err instanceof DmqError && err.code === 'INTERNAL',
    );
  });

  test('a cached table selection gives the same verdict for every event', () => {
    const filter = makeEventFilter([ignoreDeletes], false);
    assert.deepEqual(filter(row('shop', 'orders', 'delete')), { action: 'Ignore', rule: 'no-deletes' });
    assert.deepEqual(filter(row('shop', 'orders', 'insert')), { action: 'Do' });
    assert.deepEqual(filter(row('shop', 'orders', 'delete')), { action: 'Ignore', rule: 'no-deletes' });
  });
});
