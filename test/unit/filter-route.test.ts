import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteRule } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';
import { makeExtractor, makeRouter } from '../../src/shared/filter/route.js';

const schemaRule = (name: string, schemaPattern: string, targetSchema: string): RouteRule => ({ name, schemaPattern, targetSchema });
const tableRule = (name: string, schemaPattern: string, tablePattern: string, targetSchema: string, targetTable?: string): RouteRule => ({
  name,
  schemaPattern,
  tablePattern,
  targetSchema,
  ...(targetTable === undefined ? {} : { targetTable }),
});

describe('routes', () => {
  const cases: { name: string; rules: RouteRule[]; caseSensitive?: boolean; routes: [string, string, string, string][] }[] = [
    {
      name: 'no rules: unchanged',
      rules: [],
      routes: [['a', 'b', 'a', 'b']],
    },
    {
      name: 'a schema rule renames the schema and keeps the table',
      rules: [schemaRule('merge-db', 'shard_*', 'merged')],
      routes: [
        ['shard_1', 'orders', 'merged', 'orders'],
        ['shard_2', 'users', 'merged', 'users'],
        ['other', 't', 'other', 't'],
        ['shard_3', '', 'merged', ''],
      ],
    },
    {
      name: 'a table rule renames both',
      rules: [tableRule('merge-t', 'test_db', 'test_table_*', 'test_db', 'test_table')],
      routes: [
        ['test_db', 'test_table_01', 'test_db', 'test_table'],
        ['test_db', 'other', 'test_db', 'other'],
      ],
    },
    {
      name: 'a table rule wins over a schema rule',
      rules: [schemaRule('s', 'shard_*', 'merged'), tableRule('t', 'shard_*', 'orders_*', 'merged', 'orders')],
      routes: [
        ['shard_1', 'orders_1', 'merged', 'orders'],
        ['shard_1', 'users', 'merged', 'users'],
      ],
    },
    {
      name: 'a table rule without target-table keeps the table name; empty target-schema keeps the schema',
      rules: [tableRule('t', 'a', 'x_*', 'b'), tableRule('u', 'c', 'y', '', 'z')],
      routes: [
        ['a', 'x_1', 'b', 'x_1'],
        ['c', 'y', 'c', 'z'],
      ],
    },
    {
      name: 'patterns are case-insensitive by default, targets kept as written',
      rules: [tableRule('t', 'Shard_*', 'T', 'Merged', 'T_All')],
      routes: [['SHARD_1', 't', 'Merged', 'T_All']],
    },
    {
      name: 'case-sensitive patterns',
      rules: [schemaRule('s', 'Shard_*', 'merged')],
      caseSensitive: true,
      routes: [
        ['shard_1', 't', 'shard_1', 't'],
        ['Shard_1', 't', 'merged', 't'],
      ],
    },
    {
      name: 'regex patterns',
      rules: [tableRule('t', '~^db_\\d+$', '~^t_\\d+$', 'db', 't')],
      routes: [
        ['db_12', 't_3', 'db', 't'],
        ['db_x', 't_3', 'db_x', 't_3'],
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const route = makeRouter(c.rules, c.caseSensitive ?? false);
      for (const [schema, table, toSchema, toTable] of c.routes) {
        assert.deepEqual(route(schema, table), { schema: toSchema, table: toTable }, `${schema}.${table}`);
      }
    });
  }

  const conflicts: { name: string; rules: RouteRule[]; at: [string, string]; expect: RegExp[] }[] = [
    {
      name: 'two table rules',
      rules: [tableRule('r1', 'db', 't*', 'a', 'x'), tableRule('r2', 'db', '*', 'b', 'y')],
      at: ['db', 't1'],
      expect: [/`db`\.`t1`/, /"r1"/, /"r2"/, /table route rules/],
    },
    {
      name: 'two schema rules',
      rules: [schemaRule('s1', 'shard_*', 'a'), schemaRule('s2', '*_1', 'b')],
      at: ['shard_1', 't'],
      expect: [/`shard_1`\.`t`/, /"s1"/, /"s2"/, /schema route rules/],
    },
  ];
  for (const c of conflicts) {
    test(`conflict: ${c.name} is a config error naming both rules and the table`, () => {
      const route = makeRouter(c.rules, false);
      assert.throws(
        () => route(...c.at),
        (err: unknown) => {
          assert.ok(err instanceof DmqError);
          assert.equal(err.code, 'CONFIG_INVALID');
          for (const e of c.expect) assert.match(err.message, e);
          return true;
        },
      );
    });
  }

  test('two schema rules do not conflict for a table that a table rule takes', () => {
    const route = makeRouter([schemaRule('s1', 'db', 'a'), schemaRule('s2', 'd*', 'b'), tableRule('t', 'db', 'x', 'c', 'y')], false);
    assert.deepEqual(route('db', 'x'), { schema: 'c', table: 'y' });
    assert.throws(() => route('db', 'other'), DmqError);
  });
});

describe('extract-table / extract-schema / extract-source', () => {
  const rule: RouteRule = {
    name: 'merge',
    schemaPattern: 'shard_*',
    tablePattern: 't_*',
    targetSchema: 'merged',
    targetTable: 't',
    extractTable: { tableRegexp: 't_(\\d+)', targetColumn: 'c_table' },
    extractSchema: { schemaRegexp: '^shard_(\\w+)_(\\d+)$', targetColumn: 'c_schema' },
    extractSource: { sourceRegexp: 'replica-(\\d+)', targetColumn: 'c_source' },
  };

  test('values are the capture groups concatenated, in DM order table, schema, source', () => {
    assert.deepEqual(makeExtractor([rule], false)('mysql-replica-01', 'shard_eu_7', 't_42'), [
      { column: 'c_table', value: '42' },
      { column: 'c_schema', value: 'eu7' },
      { column: 'c_source', value: '01' },
    ]);
  });

  test('a regexp that does not match gives an empty value', () => {
    assert.deepEqual(makeExtractor([rule], false)('src', 'shard_x', 't_y'), [
      { column: 'c_table', value: '' },
      { column: 'c_schema', value: '' },
      { column: 'c_source', value: '' },
    ]);
  });

  test('only the rule that routes the table contributes; unrouted tables have none', () => {
    const other: RouteRule = {
      name: 'other',
      schemaPattern: 'shard_*',
      targetSchema: 'merged',
      extractSource: { sourceRegexp: '(.*)', targetColumn: 'src' },
    };
    assert.deepEqual(makeExtractor([rule, other], false)('mysql-replica-01', 'shard_eu_7', 'users'), [
      { column: 'src', value: 'mysql-replica-01' },
    ]);
    assert.deepEqual(makeExtractor([rule], false)('s', 'app', 'users'), []);
  });
});
