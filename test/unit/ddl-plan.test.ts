import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBatcher } from '../../src/producers/binlog/batcher.js';
import { planDdl, type DdlPlan, type DdlPlanContext } from '../../src/producers/binlog/ddl-plan.js';
import type { ShardMode } from '../../src/shared/config/types.js';
import { readDdl } from '../../src/shared/ddl/read-ddl.js';
import { makeTableFilter } from '../../src/shared/filter/block-allow.js';
import { makeEventFilter } from '../../src/shared/filter/binlog-event.js';
import { makeRouter } from '../../src/shared/filter/route.js';

const F = 'mysql-bin.000002';

/** The reader's state as the event reader hands it over: `seen` tables have a stream in this run at the given positions. */
function context(
  options: {
    shardMode?: ShardMode;
    seen?: Record<string, number>;
    shardChanges?: Record<string, number>;
    ignoreDropTable?: boolean;
    forbidTruncate?: boolean;
  } = {},
): DdlPlanContext {
  const seen = new Map(Object.entries(options.seen ?? {}).map(([name, pos]) => [name, `${F}:${pos}`]));
  return {
    filter: makeTableFilter(
      { doDbs: ['app', 'shop'], ignoreDbs: [], doTables: [], ignoreTables: [{ dbName: 'app', tblName: 'secret*' }] },
      { caseSensitive: false },
    ),
    route: makeRouter(
      [{ name: 'merge', schemaPattern: 'shop', tablePattern: 'orders_*', targetSchema: 'all_shops', targetTable: 'orders' }],
      false,
    ),
    eventFilter: makeEventFilter(
      [
        ...(options.ignoreDropTable
          ? [{ name: 'keep', schemaPattern: 'app', events: ['drop table'], sqlPattern: [], action: 'Ignore' as const }]
          : []),
        ...(options.forbidTruncate
          ? [{ name: 'no-truncate', schemaPattern: '*', events: ['truncate table'], sqlPattern: [], action: 'Error' as const }]
          : []),
      ],
      false,
    ),
    shardMode: options.shardMode ?? '',
    waitsOf: (schema, table) => {
      const coord = seen.get(table === '' ? schema : `${schema}.${table}`);
      return coord === undefined ? [] : [{ schema, table, coord }];
    },
    lastShardChange: (schema, table) =>
      options.shardChanges?.[`${schema}.${table}`] === undefined ? undefined : `${F}:${options.shardChanges[`${schema}.${table}`]}`,
    streams: () =>
      [...seen.keys()]
        .filter((k) => k.includes('.'))
        .map((k) => ({ schema: k.slice(0, k.indexOf('.')), table: k.slice(k.indexOf('.') + 1) })),
  };
}

function plan(sql: string, ctx: DdlPlanContext, defaultSchema = 'app'): DdlPlan[] {
  const reading = readDdl(sql, defaultSchema);
  assert.equal(reading.type, 'ddl', JSON.stringify(reading));
  if (reading.type !== 'ddl') return [];
  return reading.statements.map((s, i) => planDdl(s, `${F}:900${i ? `#${i}` : ''}`, ctx));
}

/** Each barrier as `stream: statements | waits`, for compact expectations. */
function barriers(p: DdlPlan): string[] {
  assert.equal(p.action, 'apply', JSON.stringify(p));
  if (p.action !== 'apply') return [];
  return p.barriers.map(
    (u) =>
      `${u.table.schema}.${u.table.table}${u.creates ? ' (new)' : ''}: ${u.ddl.target.join('; ')} | ${u.ddl.after.map((w) => `${w.schema}.${w.table}@${w.coord.slice(F.length + 1)}`).join(', ')}${u.ddl.shard === 'none' ? '' : ` [${u.ddl.shard}]`}`,
  );
}

describe('planDdl: which streams a DDL goes to, what the target runs, what it waits for', () => {
  test("an ALTER runs in its table's stream, names routed", () => {
    assert.deepEqual(plan('ALTER TABLE orders_3 ADD COLUMN note TEXT', context(), 'shop').map(barriers), [
      ['shop.orders_3: ALTER TABLE `all_shops`.`orders` ADD COLUMN `note` TEXT | '],
    ]);
  });

  test('CREATE TABLE creates the schema if needed, follows a schema dropped before it in this run, and needs no checkpoint row', () => {
    assert.deepEqual(plan('CREATE TABLE t (id INT PRIMARY KEY)', context({ seen: { app: 500 } })).map(barriers), [
      [
        'app.t (new): CREATE DATABASE IF NOT EXISTS `app` CHARACTER SET utf8mb4; CREATE TABLE IF NOT EXISTS `app`.`t` (`id` INT PRIMARY KEY) | app.@500',
      ],
    ]);
  });

  test("RENAME runs in the old name's stream after the new name's earlier changes; the new name's stream waits for it", () => {
    assert.deepEqual(plan('RENAME TABLE a TO b', context({ seen: { 'app.b': 700 } })).map(barriers), [
      ['app.a: RENAME TABLE `app`.`a` TO `app`.`b` | app.b@700', 'app.b (new):  | app.a@900'],
    ]);
  });

  test('DROP DATABASE waits for every table of the schema read in this run, whose later rows follow it', () => {
    assert.deepEqual(plan('DROP DATABASE app', context({ seen: { 'app.t': 300, 'app.u': 400, 'shop.v': 10 } })).map(barriers), [
      ['app. (new): DROP DATABASE IF EXISTS `app` | app.t@300, app.u@400', 'app.t:  | app.@900', 'app.u:  | app.@900'],
    ]);
  });

  test("DROP TABLE of two tables: one barrier in each table's stream, same position in parts", () => {
    assert.deepEqual(plan('DROP TABLE a, b', context()).map(barriers), [
      ['app.a: DROP TABLE IF EXISTS `app`.`a` | '],
      ['app.b: DROP TABLE IF EXISTS `app`.`b` | '],
    ]);
  });

  const skips: { name: string; sql: string; ctx: DdlPlanContext; reason: RegExp }[] = [
    {
      name: 'a table the block-allow list leaves out',
      sql: 'ALTER TABLE secret_1 ADD c INT',
      ctx: context(),
      reason: /`app`.`secret_1` is not migrated/,
    },
    { name: 'a schema the list leaves out', sql: 'CREATE DATABASE other', ctx: context(), reason: /`other` is not migrated/ },
    {
      name: 'an Ignore filter rule',
      sql: 'DROP TABLE t',
      ctx: context({ ignoreDropTable: true }),
      reason: /filter rule "keep" ignores drop table/,
    },
    {
      name: 'DROP DATABASE in shard mode',
      sql: 'DROP DATABASE app',
      ctx: context({ shardMode: 'pessimistic' }),
      reason: /shard-mode pessimistic: drop database of shards/,
    },
  ];
  for (const c of skips) {
    test(`skipped: ${c.name}`, () => {
      const [p] = plan(c.sql, c.ctx);
      assert.equal(p!.action, 'skip');
      assert.match((p as { reason: string }).reason, c.reason);
    });
  }

  test('an ALTER is filtered as DM names it: its first telling clause, else alter table', () => {
    const ctx = {
      ...context(),
      eventFilter: makeEventFilter(
        [{ name: 'no-drops', schemaPattern: 'app', events: ['drop column'], sqlPattern: [], action: 'Ignore' }],
        false,
      ),
    };
    assert.deepEqual(
      plan('ALTER TABLE t DROP COLUMN c', ctx).map((p) => p.action),
      ['skip'],
    );
    assert.match((plan('ALTER TABLE t DROP COLUMN c', ctx)[0] as { reason: string }).reason, /"no-drops" ignores drop column on `app`.`t`/);
    assert.deepEqual(
      plan('ALTER TABLE t ADD COLUMN c INT', ctx).map((p) => p.action),
      ['apply'],
    );
    const alterRule = {
      ...context(),
      eventFilter: makeEventFilter(
        [{ name: 'no-alter', schemaPattern: 'app', events: ['alter table'], sqlPattern: [], action: 'Ignore' }],
        false,
      ),
    };
    assert.deepEqual(
      plan('ALTER TABLE t ADD COLUMN c INT', alterRule).map((p) => p.action),
      ['skip'],
    );
    assert.deepEqual(
      plan('ALTER TABLE t DROP COLUMN c', alterRule).map((p) => p.action),
      ['apply'],
      'as in DM, `alter table` does not cover a DROP COLUMN',
    );
    assert.deepEqual(
      plan('ALTER TABLE t ALTER COLUMN c SET DEFAULT 1', {
        ...context(),
        eventFilter: makeEventFilter(
          [{ name: 'd', schemaPattern: 'app', events: ['modify default value'], sqlPattern: [], action: 'Ignore' }],
          false,
        ),
      }).map((p) => p.action),
      ['skip'],
    );
  });

  test('an Error filter rule refuses, naming the rule', () => {
    assert.deepEqual(plan('TRUNCATE TABLE t', context({ forbidTruncate: true })), [
      { action: 'refuse', code: 'EVENT_FILTERED', reason: 'filter rule "no-truncate" forbids truncate table on `app`.`t`' },
    ]);
  });

  test('a filter rule judges only migrated tables: an Error rule does not refuse a table the block-allow list leaves out', () => {
    const [p] = plan('TRUNCATE TABLE secret_1', context({ forbidTruncate: true }));
    assert.deepEqual(p, { action: 'skip', reason: 'table `app`.`secret_1` is not migrated' });
  });

  test('a rename into or out of the migrated tables is refused: dmq would not know the rows', () => {
    for (const sql of ['RENAME TABLE secret_1 TO t', 'RENAME TABLE t TO secret_1']) {
      const [p] = plan(sql, context());
      assert.equal(p!.action, 'refuse', sql);
      assert.match((p as { reason: string }).reason, /moves a table (into|out of) the migrated tables/);
    }
  });

  test("in shard mode, a shard's ALTER waits for the other shards of its merged table to join or leave it as the binlog said before", () => {
    const ctx = context({
      shardMode: 'pessimistic',
      seen: { 'shop.orders_1': 100, 'shop.orders_2': 200, 'shop.orders_3': 250, 'shop.other': 300 },
      shardChanges: { 'shop.orders_2': 150, 'shop.other': 290 },
    });
    assert.deepEqual(barriers(plan('ALTER TABLE orders_1 ADD COLUMN c INT', ctx, 'shop')[0]!), [
      'shop.orders_1: ALTER TABLE `all_shops`.`orders` ADD COLUMN `c` INT | shop.orders_2@150 [lock]',
    ]);
    assert.deepEqual(barriers(plan('ALTER TABLE other ADD COLUMN c INT', ctx, 'shop')[0]!), [
      'shop.other: ALTER TABLE `shop`.`other` ADD COLUMN `c` INT |  [lock]',
    ]);
  });

  test('in shard mode each statement has its role for a merged table; without it, none', () => {
    const roles = (ctx: DdlPlanContext) =>
      [
        'ALTER TABLE orders_1 ADD c INT',
        'CREATE INDEX i ON orders_1 (c)',
        'DROP INDEX i ON orders_1',
        'DROP TABLE orders_1',
        'TRUNCATE orders_1',
        'RENAME TABLE orders_1 TO orders_2',
        'CREATE TABLE orders_9 (id INT)',
      ].map((sql) => /\[([a-z-]+)\]$/.exec(barriers(plan(sql, ctx, 'shop')[0]!)[0]!)?.[1] ?? 'none');
    assert.deepEqual(roles(context({ shardMode: 'pessimistic' })), [
      'lock',
      'lock',
      'lock',
      'leave',
      'unmerged-only',
      'unmerged-only',
      'join',
    ]);
    assert.deepEqual(roles(context({ shardMode: 'optimistic' })), [
      'first',
      'first',
      'lock',
      'leave',
      'unmerged-only',
      'unmerged-only',
      'join',
    ]);
    assert.deepEqual(roles(context()), ['none', 'none', 'none', 'none', 'none', 'none', 'none']);
  });
});

describe('batcher.ddl: DDL barriers in the table chains', () => {
  const base = { task: 't', sourceId: 's', maxRows: 100, maxBytes: 1 << 20, origin: { file: F, pos: 4 }, epoch: 1, safeAt: () => false };
  const table = (name: string) => ({ schema: 'app', table: name, target: { schema: 'app', table: name }, columns: [], key: [] });
  const barrier = { source: 'x', kind: 'alter table', target: ['x'], after: [], shard: 'none' as const };

  test("a barrier chains after the table's last batch; a created table without a checkpoint may start at once; a covered one is left out", () => {
    const batcher = createBatcher({ ...base, applied: new Map([['["app","done"]', { file: F, pos: 2000 }]]), startIfMissing: false });
    batcher.rows({
      table: { ...table('a'), columns: ['id'], key: ['id'] },
      op: 'insert',
      rows: [{ after: [1] }],
      coord: { file: F, pos: 100 },
      eventTime: 0,
      gtid: null,
    });
    const out = batcher.ddl({
      barriers: [
        { table: table('a'), ddl: barrier, creates: false },
        { table: table('fresh'), ddl: barrier, creates: true },
        { table: table('done'), ddl: barrier, creates: false },
      ],
      coord: { file: F, pos: 200 },
      eventTime: 0,
      gtid: null,
    });
    assert.deepEqual(
      out.map((b) => [b.table, b.prev, b.coord, b.startIfMissing, b.changes.length]),
      [
        ['a', `${F}:4`, `${F}:100`, false, 1],
        ['a', `${F}:100`, `${F}:200`, false, 0],
        ['fresh', `${F}:4`, `${F}:200`, true, 0],
      ],
    );
    assert.deepEqual(batcher.waitsOf('app', 'fresh'), [{ schema: 'app', table: 'fresh', coord: `${F}:200` }]);
    assert.deepEqual(
      batcher
        .streams()
        .map((t) => t.table)
        .sort(),
      ['a', 'done', 'fresh'],
    );
  });
});
