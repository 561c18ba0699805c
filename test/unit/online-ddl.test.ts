import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createOnlineDdl, onlineDdlStep, type OnlineDdlStep } from '../../src/producers/binlog/online-ddl.js';
import { replayRecords, type PendingAlters } from '../../src/shared/checkpoint/online-ddl-store.js';
import { makeTableFilter } from '../../src/shared/filter/block-allow.js';
import {
  DEFAULT_SHADOW_TABLE_RULES,
  DEFAULT_TRASH_TABLE_RULES,
  onlineDdlRules,
  type OnlineDdlRules,
  withoutOnlineDdlTables,
} from '../../src/shared/filter/online-ddl.js';
import { type DdlStatement, readDdl } from '../../src/shared/ddl/read-ddl.js';

const F = 'mysql-bin.000003';
const defaults = { onlineDdl: true, shadowTableRules: DEFAULT_SHADOW_TABLE_RULES, trashTableRules: DEFAULT_TRASH_TABLE_RULES };
const rules = onlineDdlRules(defaults) as OnlineDdlRules;
/** `app` is migrated except `app.secret`; `other` is not migrated at all. */
const filter = withoutOnlineDdlTables(
  makeTableFilter(
    { doDbs: ['app'], ignoreDbs: [], doTables: [], ignoreTables: [{ dbName: 'app', tblName: 'secret' }] },
    { caseSensitive: false },
  ),
  rules,
);

function pieces(sql: string): DdlStatement[] {
  const reading = readDdl(sql, 'app');
  assert.equal(reading.type, 'ddl', JSON.stringify(reading));
  return reading.type === 'ddl' ? reading.statements : [];
}

const steps = (sql: string): OnlineDdlStep[] => pieces(sql).map((p) => onlineDdlStep(p, rules, filter));

describe('online DDL: which table is whose shadow or trash', () => {
  const cases: [string, ReturnType<OnlineDdlRules['roleOf']>][] = [
    ['_orders_gho', { role: 'shadow', real: { schema: 'app', table: 'orders' } }],
    ['_orders_new', { role: 'shadow', real: { schema: 'app', table: 'orders' } }],
    ['_orders_ghc', { role: 'trash', real: { schema: 'app', table: 'orders' } }],
    ['_orders_del', { role: 'trash', real: { schema: 'app', table: 'orders' } }],
    ['_orders_old', { role: 'trash', real: { schema: 'app', table: 'orders' } }],
    // The group is greedy, as in DM: the real name keeps its own underscores.
    ['_order_items_gho', { role: 'shadow', real: { schema: 'app', table: 'order_items' } }],
    ['orders', { role: 'real' }],
    ['orders_new', { role: 'real' }],
    ['_orders_GHO', { role: 'real' }],
    ['__gho', { role: 'real' }],
  ];
  for (const [table, role] of cases) test(table, () => assert.deepEqual(rules.roleOf({ schema: 'app', table }), role));

  test('custom rules name the real table by their first group', () => {
    const custom = onlineDdlRules({ onlineDdl: true, shadowTableRules: ['^(.+)_shadow$'], trashTableRules: ['^(.+)_trash$'] })!;
    assert.deepEqual(custom.roleOf({ schema: 's', table: 't_shadow' }), { role: 'shadow', real: { schema: 's', table: 't' } });
    assert.deepEqual(custom.roleOf({ schema: 's', table: 't_trash' }), { role: 'trash', real: { schema: 's', table: 't' } });
    assert.deepEqual(custom.roleOf({ schema: 's', table: '_t_gho' }), { role: 'real' });
  });

  test('online-ddl off: no rules, and the filter lets shadow tables through', () => {
    assert.equal(onlineDdlRules({ ...defaults, onlineDdl: false }), undefined);
    const plain = makeTableFilter(null, { caseSensitive: false });
    assert.equal(withoutOnlineDdlTables(plain, undefined).table('app', '_t_gho'), true);
  });

  test('the copy and the rows leave out shadow and trash tables of migrated tables', () => {
    assert.equal(filter.table('app', 'orders'), true);
    assert.equal(filter.table('app', '_orders_gho'), false);
    assert.equal(filter.table('app', '_orders_ghc'), false);
    assert.equal(filter.table('app', '_orders_old'), false);
    assert.equal(filter.schema('app'), true);
  });
});

describe('online DDL: what each statement of a tool run does', () => {
  test('gh-ost: changelog and sentry tables are skipped, the ghost table is reset, its ALTER recorded, the cut-over swaps', () => {
    assert.equal(steps('CREATE TABLE _orders_ghc (id BIGINT PRIMARY KEY, hint VARCHAR(64))')[0]!.action, 'skip');
    assert.deepEqual(steps('CREATE TABLE app._orders_gho LIKE app.orders')[0], {
      action: 'reset',
      shadow: { schema: 'app', table: '_orders_gho' },
      reason: 'create table of shadow table `app`.`_orders_gho`',
    });
    assert.deepEqual(steps('ALTER TABLE `_orders_gho` ADD COLUMN note VARCHAR(20) DEFAULT NULL')[0], {
      action: 'record',
      shadow: { schema: 'app', table: '_orders_gho' },
      sql: 'ALTER TABLE `app`.`_orders_gho` ADD COLUMN `note` VARCHAR(20) DEFAULT NULL',
    });
    assert.equal(steps('CREATE TABLE _orders_del (id INT AUTO_INCREMENT PRIMARY KEY)')[0]!.action, 'skip');
    assert.deepEqual(
      steps('RENAME TABLE app.orders TO app._orders_del, app._orders_gho TO app.orders').map((s) => s.action),
      ['skip', 'swap'],
    );
    assert.equal(steps('DROP TABLE IF EXISTS _orders_ghc')[0]!.action, 'skip');
  });

  test('pt-osc: new table reset, ALTER and CREATE INDEX recorded, the swap, the old table dropped', () => {
    assert.equal(steps('CREATE TABLE `app`.`_orders_new` (id INT PRIMARY KEY)')[0]!.action, 'reset');
    assert.equal(steps('ALTER TABLE `app`.`_orders_new` ADD COLUMN qty INT NOT NULL DEFAULT 0')[0]!.action, 'record');
    assert.equal(steps('CREATE INDEX by_qty ON _orders_new (qty)')[0]!.action, 'record');
    assert.deepEqual(steps('RENAME TABLE `app`.`orders` TO `app`.`_orders_old`, `app`.`_orders_new` TO `app`.`orders`')[1], {
      action: 'swap',
      shadow: { schema: 'app', table: '_orders_new' },
      real: { schema: 'app', table: 'orders' },
    });
    assert.equal(steps('DROP TABLE IF EXISTS `app`.`_orders_old`')[0]!.action, 'skip');
    assert.equal(steps('DROP TABLE _orders_new')[0]!.action, 'reset');
    assert.equal(steps('RENAME TABLE _orders_new TO _orders_old')[0]!.action, 'reset');
  });

  test('tables the tools do not own, and tables that are not migrated, take the usual path', () => {
    assert.deepEqual(steps('ALTER TABLE orders ADD COLUMN x INT'), [{ action: 'pass' }]);
    assert.deepEqual(steps('RENAME TABLE orders TO orders_2024'), [{ action: 'pass' }]);
    assert.deepEqual(steps('CREATE DATABASE shop'), [{ action: 'pass' }]);
    assert.equal(steps('ALTER TABLE other._t_gho ADD COLUMN x INT')[0]!.action, 'skip');
    assert.equal(steps('ALTER TABLE _secret_gho ADD COLUMN x INT')[0]!.action, 'skip');
  });

  test('renames that would make a shadow table of a real one, or swap a table to the wrong side, are refused', () => {
    assert.equal(steps('RENAME TABLE orders TO _orders_gho')[0]!.action, 'refuse');
    assert.equal(steps('RENAME TABLE _orders_old TO _orders_gho')[0]!.action, 'refuse');
    assert.equal(steps('RENAME TABLE _orders_gho TO _items_new')[0]!.action, 'refuse');
    assert.equal(steps('RENAME TABLE secret TO _secret_gho')[0]!.action, 'skip');
  });
});

describe('online DDL: a run of a tool, read in order', () => {
  const at = (pos: number, part?: number) => (part === undefined ? { file: F, pos } : { file: F, pos, part });

  function read(online: ReturnType<typeof createOnlineDdl>, sql: string, pos: number) {
    return pieces(sql).map((piece, part) => online.read(piece, at(pos, part === 0 ? undefined : part)));
  }

  test('the swap replays the recorded ALTERs on the real table, in order, and forgets them', () => {
    const online = createOnlineDdl(rules, filter, new Map());
    read(online, 'CREATE TABLE _orders_new LIKE orders', 100);
    read(online, 'ALTER TABLE _orders_new ADD COLUMN qty INT NOT NULL DEFAULT 0, ADD INDEX by_qty (qty)', 200);
    read(online, 'ALTER TABLE _orders_new MODIFY COLUMN qty BIGINT NOT NULL DEFAULT 0', 300);
    const [toTrash, swap] = read(online, 'RENAME TABLE orders TO _orders_old, _orders_new TO orders', 400);
    assert.equal(toTrash!.action, 'skip');
    assert.equal(swap!.action, 'apply');
    const statements = swap!.action === 'apply' ? swap!.statements : [];
    assert.deepEqual(
      statements.map((s) => ({
        kind: s.kind,
        tables: s.tables,
        text: s.text,
        target: s.render((schema, table) => ({ schema: `t_${schema}`, table })),
      })),
      [
        {
          kind: 'alter table',
          tables: [{ schema: 'app', table: 'orders' }],
          text: 'ALTER TABLE `app`.`orders` ADD COLUMN `qty` INT NOT NULL DEFAULT 0, ADD INDEX by_qty (`qty`)',
          target: 'ALTER TABLE `t_app`.`orders` ADD COLUMN `qty` INT NOT NULL DEFAULT 0, ADD INDEX by_qty (`qty`)',
        },
        {
          kind: 'alter table',
          tables: [{ schema: 'app', table: 'orders' }],
          text: 'ALTER TABLE `app`.`orders` MODIFY COLUMN `qty` BIGINT NOT NULL DEFAULT 0',
          target: 'ALTER TABLE `t_app`.`orders` MODIFY COLUMN `qty` BIGINT NOT NULL DEFAULT 0',
        },
      ],
    );
    assert.deepEqual(
      online.unsaved().map((r) => [r.kind, r.coord.pos]),
      [
        ['reset', 100],
        ['ddl', 200],
        ['ddl', 300],
        ['reset', 400],
      ],
    );
    assert.equal(online.unsaved()[3]!.coord.part, 1, 'the swap is the second piece of the RENAME');
    // A second swap of the same name finds nothing recorded since the first.
    const [, again] = read(online, 'RENAME TABLE orders TO _orders_old, _orders_new TO orders', 500);
    assert.equal(again!.action, 'refuse');
  });

  test('a reader that restarts between the ALTER and the swap finds the ALTER in what was saved', () => {
    const first = createOnlineDdl(rules, filter, new Map());
    read(first, 'CREATE TABLE _orders_gho LIKE orders', 100);
    read(first, 'ALTER TABLE _orders_gho ADD COLUMN c2 INT', 200);
    const pending: PendingAlters = new Map();
    replayRecords(pending, first.unsaved());
    const second = createOnlineDdl(rules, filter, pending);
    const [, swap] = read(second, 'RENAME TABLE orders TO _orders_del, _orders_gho TO orders', 300);
    assert.equal(swap!.action, 'apply');
    assert.deepEqual(swap!.action === 'apply' ? swap!.statements.map((s) => s.text) : [], [
      'ALTER TABLE `app`.`orders` ADD COLUMN `c2` INT',
    ]);
  });

  test('a new run of the tool forgets what an aborted run recorded', () => {
    const online = createOnlineDdl(rules, filter, new Map());
    read(online, 'CREATE TABLE _orders_gho LIKE orders', 100);
    read(online, 'ALTER TABLE _orders_gho ADD COLUMN aborted INT', 200);
    read(online, 'DROP TABLE _orders_gho', 300);
    read(online, 'CREATE TABLE _orders_gho LIKE orders', 400);
    read(online, 'ALTER TABLE _orders_gho ADD COLUMN kept INT', 500);
    const [, swap] = read(online, 'RENAME TABLE orders TO _orders_del, _orders_gho TO orders', 600);
    assert.deepEqual(swap!.action === 'apply' ? swap!.statements.map((s) => s.text) : swap, [
      'ALTER TABLE `app`.`orders` ADD COLUMN `kept` INT',
    ]);
  });

  test("statements the parser cannot read: gh-ost's changelog table is skipped, a shadow table's CREATE resets it, its ALTER stays unreadable", () => {
    const online = createOnlineDdl(rules, filter, new Map());
    const unreadable = (sql: string) => {
      const reading = readDdl(sql, 'app');
      assert.equal(reading.type, 'unreadable', sql);
      return reading.type === 'unreadable' ? reading.about : undefined;
    };
    // gh-ost 1.1.6 writes `charset ascii` after a column type, which node-sql-parser does not read.
    const changelog = unreadable(
      'create /* gh-ost */ table `app`.`_orders_ghc` (id bigint unsigned auto_increment, hint varchar(64) charset ascii not null, primary key(id))',
    );
    assert.deepEqual(changelog, { verb: 'create', table: { schema: 'app', table: '_orders_ghc' } });
    assert.equal(online.unreadable(changelog!, at(100))?.action, 'skip');
    read(online, 'ALTER TABLE _orders_gho ADD COLUMN stale INT', 150);
    const created = unreadable('CREATE TABLE IF NOT EXISTS _orders_gho (id INT PRIMARY KEY, v VARCHAR(9) charset ascii)');
    assert.equal(online.unreadable(created!, at(200))?.action, 'skip');
    assert.deepEqual(online.unsaved().at(-1), { kind: 'reset', coord: at(200), shadow: { schema: 'app', table: '_orders_gho' } });
    const altered = unreadable('ALTER TABLE _orders_gho ADD COLUMN v2 VARCHAR(9) charset ascii');
    assert.equal(online.unreadable(altered!, at(300)), undefined);
    assert.equal(online.unreadable(unreadable('CREATE TABLE orders2 (v VARCHAR(9) charset ascii)')!, at(400)), undefined);
  });

  test('a swap whose ALTER was never read is refused, naming both tables', () => {
    const online = createOnlineDdl(rules, filter, new Map());
    const [, swap] = read(online, 'RENAME TABLE orders TO _orders_del, _orders_gho TO orders', 600);
    assert.equal(swap!.action, 'refuse');
    assert.match(swap!.action === 'refuse' ? swap!.reason : '', /shadow table `app`.`_orders_gho` in for `app`.`orders`.*no ALTER/);
  });
});
