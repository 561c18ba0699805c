import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BlockAllowList } from '../../src/shared/config/types.js';
import { makeTableFilter, type TableFilterOptions } from '../../src/shared/filter/block-allow.js';

function list(parts: Partial<BlockAllowList>): BlockAllowList {
  return { doDbs: [], ignoreDbs: [], doTables: [], ignoreTables: [], ...parts };
}

const t = (dbName: string, tblName: string) => ({ dbName, tblName });

interface Case {
  name: string;
  list: BlockAllowList | null;
  opts?: Partial<TableFilterOptions>;
  tables: [schema: string, table: string, kept: boolean][];
  schemas?: [schema: string, kept: boolean][];
}

const cases: Case[] = [
  {
    name: 'no list: everything but system schemas',
    list: null,
    tables: [
      ['app', 'users', true],
      ['mysql', 'user', false],
      ['information_schema', 'TABLES', false],
      ['performance_schema', 'x', false],
      ['sys', 'x', false],
      ['metrics_schema', 'x', false],
      ['inspection_schema', 'x', false],
    ],
    schemas: [
      ['app', true],
      ['mysql', false],
      ['SYS', false],
    ],
  },
  {
    name: 'system schemas stay excluded even when do-dbs asks for them',
    list: list({ doDbs: ['*'] }),
    tables: [
      ['mysql', 'user', false],
      ['Performance_Schema', 'x', false],
      ['app', 'x', true],
    ],
  },
  {
    name: 'do-dbs: only matching schemas',
    list: list({ doDbs: ['app', 'shop_*'] }),
    tables: [
      ['app', 'a', true],
      ['shop_eu', 'b', true],
      ['other', 'c', false],
    ],
    schemas: [
      ['app', true],
      ['other', false],
    ],
  },
  {
    name: 'with do-dbs, ignore-dbs is not consulted',
    list: list({ doDbs: ['shop_*'], ignoreDbs: ['shop_test'] }),
    tables: [
      ['shop_test', 'a', true],
      ['shop_eu', 'a', true],
      ['app', 'a', false],
    ],
  },
  {
    name: 'ignore-dbs drops matching schemas when do-dbs is empty',
    list: list({ ignoreDbs: ['tmp_*', '~^bak'] }),
    tables: [
      ['tmp_1', 'a', false],
      ['bak_2024', 'a', false],
      ['abak', 'a', true],
      ['app', 'a', true],
    ],
    schemas: [
      ['tmp_x', false],
      ['app', true],
    ],
  },
  {
    name: 'do-tables keeps only matches; schema-level statements still pass (as in DM)',
    list: list({ doTables: [t('test_db', 'test_table')] }),
    tables: [
      ['test_db', 'test_table', true],
      ['test_db', 'other', false],
      ['other_db', 'test_table', false],
    ],
    schemas: [
      ['test_db', true],
      ['other_db', true],
    ],
  },
  {
    name: 'a do-tables match wins over ignore-tables',
    list: list({ doTables: [t('app', 'orders_*')], ignoreTables: [t('app', 'orders_tmp')] }),
    tables: [
      ['app', 'orders_tmp', true],
      ['app', 'orders_2024', true],
      ['app', 'users', false],
    ],
  },
  {
    name: 'ignore-tables alone drops matches and keeps the rest',
    list: list({ ignoreTables: [t('*', '_*_gho'), t('app', 'audit')] }),
    tables: [
      ['app', '_users_gho', false],
      ['app', 'audit', false],
      ['other', 'audit', true],
      ['app', 'users', true],
    ],
  },
  {
    name: 'ignore-tables with do-tables: unmatched tables are dropped',
    list: list({ doTables: [t('app', 'a')], ignoreTables: [t('app', 'b')] }),
    tables: [
      ['app', 'a', true],
      ['app', 'b', false],
      ['app', 'c', false],
    ],
  },
  {
    name: 'the schema check comes before do-tables',
    list: list({ doDbs: ['app'], doTables: [t('*', 'users')] }),
    tables: [
      ['app', 'users', true],
      ['crm', 'users', false],
      ['app', 'orders', false],
    ],
  },
  {
    name: 'regex patterns in tables',
    list: list({ doTables: [t('~^shard_[0-9]+$', '~^t_\\d{2}$')] }),
    tables: [
      ['shard_1', 't_01', true],
      ['shard_1', 't_1', false],
      ['shard_x', 't_01', false],
      ['xshard_1', 't_01', false],
    ],
  },
  {
    name: 'case-insensitive by default',
    list: list({ doDbs: ['App'], doTables: [t('app', 'Users')] }),
    tables: [
      ['APP', 'users', true],
      ['app', 'USERS', true],
      ['app', 'orders', false],
    ],
  },
  {
    name: 'case-sensitive when asked',
    list: list({ doDbs: ['App'] }),
    opts: { caseSensitive: true },
    tables: [
      ['App', 'x', true],
      ['app', 'x', false],
    ],
    schemas: [['APP', false]],
  },
  {
    name: '-B narrows the schemas on top of the list',
    list: list({ doDbs: ['a', 'b'] }),
    opts: { onlyDbs: ['b', 'c'] },
    tables: [
      ['a', 't', false],
      ['b', 't', true],
      ['c', 't', false],
    ],
    schemas: [
      ['a', false],
      ['b', true],
      ['B', true],
    ],
  },
  {
    name: '-T t matches t in any allowed schema',
    list: list({ doDbs: ['a', 'b'] }),
    opts: { onlyTables: ['t'] },
    tables: [
      ['a', 't', true],
      ['b', 't', true],
      ['a', 'u', false],
      ['c', 't', false],
    ],
  },
  {
    name: '-T db.t matches only that schema',
    list: null,
    opts: { onlyTables: ['a.t', 'b.u'] },
    tables: [
      ['a', 't', true],
      ['b', 't', false],
      ['b', 'u', true],
      ['A', 'T', true],
    ],
  },
  {
    name: 'the seed task: do-tables plus -B test_db -T test_table',
    list: list({ doTables: [t('test_db', 'test_table')] }),
    opts: { onlyDbs: ['test_db'], onlyTables: ['test_table'] },
    tables: [
      ['test_db', 'test_table', true],
      ['test_db', 'x', false],
      ['other', 'test_table', false],
    ],
    schemas: [
      ['test_db', true],
      ['other', false],
    ],
  },
];

describe('block-allow list (DM precedence)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const filter = makeTableFilter(c.list, { caseSensitive: false, ...c.opts });
      for (const [schema, table, kept] of c.tables) {
        assert.equal(filter.table(schema, table), kept, `table ${schema}.${table}`);
      }
      for (const [schema, kept] of c.schemas ?? []) {
        assert.equal(filter.schema(schema), kept, `schema ${schema}`);
      }
    });
  }
});
