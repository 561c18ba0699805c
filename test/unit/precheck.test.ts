import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InstanceConfig, RouteRule } from '../../src/shared/config/types.js';
import { summarizePrecheck, type CheckResult } from '../../src/shared/task/precheck-result.js';
import { columnDifferences, shardGroups } from '../../src/processors/precheck/shards.js';
import { serverVersion } from '../../src/processors/precheck/server.js';
import { tidbRelease } from '../../src/processors/precheck/target-items.js';
import type { ColumnFacts, TableFacts } from '../../src/processors/precheck/tables.js';
import { buildValidator } from '../../src/shared/config/task-named.js';

function column(name: string, columnType = 'int(11)', nullable = false, autoIncrement = false): ColumnFacts {
  return { name, columnType, dataType: columnType.replace(/\(.*/, ''), collation: null, nullable, autoIncrement };
}

function table(schema: string, name: string, columns: ColumnFacts[]): TableFacts {
  return { schema, table: name, columns, uniqueKeys: [], foreignKeys: [] };
}

function instance(sourceId: string, routes: RouteRule[]): InstanceConfig {
  return {
    sourceId,
    blockAllowList: null,
    routes,
    filters: [],
    expressionFilters: [],
    mydumper: { threads: 4, rows: 0, extraArgs: '', onlyDbs: [], onlyTables: [], noLocks: false },
    loader: { poolSize: 16, onDuplicate: 'replace' },
    syncer: { workerCount: 16, batch: 100, safeMode: false, safeModeDuration: '60s', compact: false, multipleRows: false },
    validator: buildValidator({}, '', []),
  };
}

describe('summarizePrecheck', () => {
  const base: Omit<CheckResult, 'id' | 'name' | 'state' | 'errors'> = { desc: 'd' };
  test('names item, source, address, error and fix', () => {
    const text = summarizePrecheck({
      passed: false,
      results: [
        { ...base, id: 1, name: 'connectivity', state: 'success', sourceId: 'mysql-replica-01', address: '127.0.0.1:3307', errors: [] },
        {
          ...base,
          id: 2,
          name: 'binlog_format',
          state: 'fail',
          sourceId: 'mysql-replica-01',
          address: '127.0.0.1:3307',
          errors: [{ severity: 'fail', shortErr: 'binlog_format is STATEMENT, must be ROW' }],
          instruction: 'set binlog_format=ROW in the server config and restart',
        },
        {
          ...base,
          id: 3,
          name: 'table_schema',
          state: 'warn',
          sourceId: 'mysql-replica-01',
          errors: [{ severity: 'warn', shortErr: 'no pk' }],
        },
      ],
    });
    assert.equal(
      text,
      'precheck failed: binlog_format on source "mysql-replica-01" (127.0.0.1:3307): binlog_format is STATEMENT, must be ROW — set binlog_format=ROW in the server config and restart',
    );
  });

  test('lists several failures, the target included', () => {
    const text = summarizePrecheck({
      passed: false,
      results: [
        {
          ...base,
          id: 1,
          name: 'conn_number',
          state: 'fail',
          address: '10.0.0.1:4000',
          errors: [{ severity: 'fail', shortErr: 'too few' }],
        },
        {
          ...base,
          id: 2,
          name: 'schema_of_shard_tables',
          state: 'fail',
          errors: [
            { severity: 'fail', shortErr: 'a differs' },
            { severity: 'warn', shortErr: 'ignored' },
          ],
        },
      ],
    });
    assert.equal(text, 'precheck failed:\n- conn_number on target (10.0.0.1:4000): too few\n- schema_of_shard_tables: a differs');
  });

  test('passes, counting warnings', () => {
    assert.equal(summarizePrecheck({ passed: true, results: [] }), 'precheck passed');
    assert.equal(
      summarizePrecheck({
        passed: true,
        results: [{ ...base, id: 1, name: 'table_schema', state: 'warn', errors: [{ severity: 'warn', shortErr: 'x' }] }],
      }),
      'precheck passed with 1 warning',
    );
  });
});

describe('columnDifferences', () => {
  const ref = table('a', 't', [column('id'), column('name', 'varchar(20)', true)]);
  test('equal tables, names compared case-insensitively', () => {
    assert.deepEqual(columnDifferences(ref, table('b', 't', [column('ID'), column('Name', 'varchar(20)', true)])), []);
  });
  test('type, nullability, missing and extra columns', () => {
    assert.deepEqual(columnDifferences(ref, table('b', 't', [column('id', 'bigint(20)'), column('extra')])), [
      'column `id` is bigint(20) not null, not int(11) not null',
      'column `name` is missing',
      'extra column `extra`',
    ]);
    assert.deepEqual(columnDifferences(ref, table('b', 't', [column('id'), column('name', 'varchar(20)')])), [
      'column `name` is varchar(20) not null, not varchar(20)',
    ]);
  });
  test('order', () => {
    assert.deepEqual(columnDifferences(ref, table('b', 't', [column('name', 'varchar(20)', true), column('id')])), [
      'the same columns in a different order',
    ]);
  });
});

describe('shardGroups', () => {
  const merge: RouteRule = { name: 'r', schemaPattern: 'shard_*', tablePattern: 't_*', targetSchema: 'all', targetTable: 't' };
  test('groups tables routed to one target across and within sources', () => {
    const groups = shardGroups(
      [
        { instance: instance('s1', [merge]), tables: [table('shard_1', 't_1', []), table('shard_1', 't_2', []), table('other', 'x', [])] },
        { instance: instance('s2', [merge]), tables: [table('shard_2', 't_1', []), table('other', 'x', [])] },
      ],
      false,
    );
    assert.equal(groups.length, 2);
    const merged = groups.find((g) => g.target.schema === 'all')!;
    assert.deepEqual(merged.target, { schema: 'all', table: 't' });
    assert.deepEqual(
      merged.members.map((m) => `${m.sourceId}:${m.table.schema}.${m.table.table}`),
      ['s1:shard_1.t_1', 's1:shard_1.t_2', 's2:shard_2.t_1'],
    );
    const same = groups.find((g) => g.target.schema === 'other')!;
    assert.deepEqual(
      same.members.map((m) => m.sourceId),
      ['s1', 's2'],
    );
  });
  test('tables that stay apart form no group', () => {
    assert.deepEqual(shardGroups([{ instance: instance('s1', []), tables: [table('a', 't', []), table('b', 't', [])] }], false), []);
  });
});

test('a TiDB release is read from the server version', () => {
  const cases: [string, [number, number] | undefined][] = [
    ['8.0.11-TiDB-v8.5.6', [8, 5]],
    ['5.7.25-TiDB-v6.1.0', [6, 1]],
    ['8.0.11-TiDB-v7.5.0-serverless', [7, 5]],
    ['10.11.19-MariaDB-0+deb12u1', undefined],
  ];
  for (const [version, release] of cases) assert.deepEqual(tidbRelease(version), release, version);
});

describe('serverVersion', () => {
  const cases: [Record<string, string>, string, number, number][] = [
    [{ version: '10.11.19-MariaDB-0+deb12u1-log' }, 'mariadb', 10, 11],
    [{ version: '8.0.28', aurora_version: '3.02.0' }, 'aurora', 8, 0],
    [{ version: '5.7.12-log' }, 'mysql', 5, 7],
    [{ version: '8.0.11-TiDB-v7.5.0' }, 'tidb', 8, 0],
    [{}, 'mysql', 0, 0],
  ];
  for (const [variables, flavor, major, minor] of cases) {
    test(JSON.stringify(variables), () => {
      const v = serverVersion(new Map(Object.entries(variables)));
      assert.deepEqual([v.flavor, v.major, v.minor], [flavor, major, minor]);
    });
  }
});
