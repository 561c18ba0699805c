import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DbEndpoint, InstanceConfig, RouteRule, SourceConfig, TaskConfig, TaskMode } from '../../src/shared/config/types.js';
import { withConnection } from '../../src/shared/sql/connect.js';
import { runPrecheck } from '../../src/processors/precheck/run.js';
import { summarizePrecheck, type CheckResult, type PrecheckResult } from '../../src/shared/task/precheck-result.js';
import { getStack, resetDatabases } from '../harness/stack.js';
import { targetKindFromEnv, type Endpoint } from '../harness/servers.js';
import { buildValidator } from '../../src/shared/config/task-named.js';

const READER = { user: 'pc_reader', password: 'reader-pw' };
const ROLE_READER = { user: 'pc_role_reader', password: 'role-pw' };

let upstreams: [Endpoint, Endpoint];
let target: Endpoint;

async function exec(server: Endpoint, statements: string[]): Promise<void> {
  await withConnection(server, { label: 'test setup', role: 'source' }, async (conn) => {
    for (const sql of statements) await conn.query(sql);
  });
}

function instance(sourceId: string, overrides: Partial<InstanceConfig> = {}): InstanceConfig {
  return {
    sourceId,
    blockAllowList: { doDbs: ['pc_db'], ignoreDbs: [], doTables: [], ignoreTables: [] },
    routes: [],
    filters: [],
    expressionFilters: [],
    mydumper: { threads: 4, rows: 0, extraArgs: '', onlyDbs: [], onlyTables: [], noLocks: false },
    loader: { poolSize: 16, onDuplicate: 'replace' },
    syncer: { workerCount: 16, batch: 100, safeMode: false, safeModeDuration: '60s', compact: false, multipleRows: false },
    validator: buildValidator({}, '', []),
    ...overrides,
  };
}

function task(taskMode: TaskMode, instances: InstanceConfig[], ignoreCheckingItems: string[] = []): TaskConfig {
  return {
    name: 'precheck-test',
    taskMode,
    shardMode: '',
    metaSchema: 'dm_meta',
    caseSensitive: false,
    onlineDdl: true,
    shadowTableRules: ['^_(.+)_(?:new|gho)$'],
    trashTableRules: ['^_(.+)_(?:ghc|del|old)$'],
    cleanDumpFile: true,
    ignoreCheckingItems,
    target: { ...target, session: {} },
    instances,
    notices: [],
  };
}

function source(sourceId: string, from: DbEndpoint): SourceConfig {
  return { sourceId, flavor: 'mariadb', enableGtid: false, enableRelay: false, from, notices: [] };
}

async function precheck(t: TaskConfig, sources: SourceConfig[]): Promise<PrecheckResult> {
  return runPrecheck({ task: t, sources: new Map(sources.map((s) => [s.sourceId, s])) });
}

function item(result: PrecheckResult, name: string, sourceId?: string): CheckResult | undefined {
  return result.results.find((r) => r.name === name && (sourceId === undefined || r.sourceId === sourceId));
}

function states(result: PrecheckResult): Record<string, string> {
  return Object.fromEntries(result.results.map((r) => [`${r.sourceId ?? (r.address ? 'target' : 'across sources')}:${r.name}`, r.state]));
}

before(async () => {
  await resetDatabases();
  ({ upstreams, target } = await getStack());
  await exec(upstreams[0], [
    'CREATE DATABASE pc_db',
    'CREATE TABLE pc_db.orders (id INT PRIMARY KEY, note VARCHAR(20))',
    'CREATE TABLE pc_db.nokey (a INT, b INT)',
    `DROP USER IF EXISTS '${READER.user}'@'%'`,
    `CREATE USER '${READER.user}'@'%' IDENTIFIED BY '${READER.password}'`,
    `GRANT SELECT ON pc_db.* TO '${READER.user}'@'%'`,
    'DROP ROLE IF EXISTS pc_read_role',
    'CREATE ROLE pc_read_role',
    'GRANT SELECT ON pc_db.* TO pc_read_role',
    'GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO pc_read_role',
    `DROP USER IF EXISTS '${ROLE_READER.user}'@'%'`,
    `CREATE USER '${ROLE_READER.user}'@'%' IDENTIFIED BY '${ROLE_READER.password}'`,
    `GRANT pc_read_role TO '${ROLE_READER.user}'@'%'`,
    `SET DEFAULT ROLE pc_read_role FOR '${ROLE_READER.user}'@'%'`,
  ]);
});

after(async () => {
  await exec(upstreams[0], [
    `DROP USER IF EXISTS '${READER.user}'@'%'`,
    `DROP USER IF EXISTS '${ROLE_READER.user}'@'%'`,
    'DROP ROLE IF EXISTS pc_read_role',
  ]);
});

describe('a user with SELECT on the migrated schema only', () => {
  const reader = () => source('mysql-replica-01', { ...upstreams[0], ...READER });

  test('can dump but not replicate: mode all fails on replication_privilege', async () => {
    const result = await precheck(task('all', [instance('mysql-replica-01')]), [reader()]);
    assert.equal(item(result, 'dump_privilege')?.state, 'success', JSON.stringify(item(result, 'dump_privilege')));
    const replication = item(result, 'replication_privilege')!;
    assert.equal(replication.state, 'fail');
    assert.match(replication.errors[0]!.shortErr, /'pc_reader'@'%' lacks REPLICATION SLAVE and REPLICATION CLIENT/);
    assert.match(replication.instruction ?? '', /GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \*\.\* TO 'pc_reader'@'%'/);
    assert.equal(replication.sourceId, 'mysql-replica-01');
    assert.equal(replication.address, `${upstreams[0].host}:${upstreams[0].port}`);
    assert.equal(result.passed, false);
    assert.match(summarizePrecheck(result), /replication_privilege on source "mysql-replica-01" \(127\.0\.0\.1:\d+\)/);
    assert.match(item(result, 'dump_privilege')?.extra ?? '', /without a global lock/);
    // SHOW MASTER STATUS is denied too; that is replication_privilege's failure, not a second one.
    assert.equal(item(result, 'binlog_db')?.state, 'warn');
  });

  test('passes in mode full, where replication items are not run', async () => {
    const result = await precheck(task('full', [instance('mysql-replica-01')]), [reader()]);
    for (const name of [
      'replication_privilege',
      'binlog_enable',
      'binlog_format',
      'binlog_row_image',
      'binlog_row_metadata',
      'binlog_db',
      'server_id',
    ]) {
      assert.equal(item(result, name), undefined, name);
    }
    assert.equal(result.passed, true, summarizePrecheck(result));
    assert.equal(item(result, 'dump_privilege')?.state, 'success');
  });

  test('a table without any key is a table_schema warning naming it', async () => {
    const result = await precheck(task('full', [instance('mysql-replica-01')]), [reader()]);
    const schema = item(result, 'table_schema')!;
    assert.equal(schema.state, 'warn');
    assert.deepEqual(schema.errors, [{ severity: 'warn', shortErr: '`pc_db`.`nokey` has no primary key and no unique key' }]);
  });
});

test('a user whose privileges come from its default role (MariaDB)', async () => {
  const result = await precheck(task('all', [instance('mysql-replica-01')]), [
    source('mysql-replica-01', { ...upstreams[0], ...ROLE_READER }),
  ]);
  assert.equal(item(result, 'dump_privilege')?.state, 'success');
  assert.equal(item(result, 'replication_privilege')?.state, 'success');
  assert.equal(item(result, 'binlog_db')?.state, 'success');
});

test('binlog_row_metadata other than FULL is a warning that says which setting is safer', async () => {
  const setMetadata = (value: string) =>
    withConnection(upstreams[0], { label: 'test admin', role: 'source' }, (conn) =>
      conn.query(`SET GLOBAL binlog_row_metadata = ${value}`),
    );
  await setMetadata('MINIMAL');
  try {
    const result = await precheck(task('all', [instance('mysql-replica-01')]), [source('mysql-replica-01', upstreams[0])]);
    const metadata = item(result, 'binlog_row_metadata')!;
    assert.equal(metadata.state, 'warn');
    assert.match(
      metadata.errors[0]!.shortErr,
      /binlog_row_metadata is MINIMAL: the binlog does not name columns, so dmq decodes rows with the table definitions its schema tracker keeps/,
    );
    assert.match(metadata.instruction ?? '', /^safer: set binlog_row_metadata=FULL/);
  } finally {
    await setMetadata('FULL');
  }
});

test('binlogs that expire before the copy and a day are over are a binlog_retention warning with the setting to run', async () => {
  const setExpiry = (seconds: number) =>
    withConnection(upstreams[0], { label: 'test admin', role: 'source' }, (conn) =>
      conn.query(`SET GLOBAL binlog_expire_logs_seconds = ${seconds}`),
    );
  await setExpiry(7200);
  try {
    const result = await precheck(task('all', [instance('mysql-replica-01')]), [source('mysql-replica-01', upstreams[0])]);
    const retention = item(result, 'binlog_retention')!;
    assert.equal(retention.state, 'warn');
    assert.match(
      retention.errors[0]!.shortErr,
      /^binlogs are purged after 2\.0 hours \(binlog_expire_logs_seconds=7200, expire_logs_days=0\.08\d*\), and the copy of 0\.0 GiB is expected to take about 0\.0 hours, and a paused task needs a day to resume, so dmq needs 25 hours of binlog$/,
    );
    assert.match(retention.instruction ?? '', /^SET GLOBAL binlog_expire_logs_seconds = 90000, and the same in the server's config file/);
    assert.equal(result.passed, true, 'a warning does not stop the task');
  } finally {
    await setExpiry(0);
  }
  const kept = item(
    await precheck(task('all', [instance('mysql-replica-01')]), [source('mysql-replica-01', upstreams[0])]),
    'binlog_retention',
  )!;
  assert.equal(kept.state, 'success');
  assert.match(kept.extra ?? '', /not purged automatically/);
});

test('root on a binlog-enabled upstream passes every item', async () => {
  const result = await precheck(task('all', [instance('mysql-replica-01')]), [source('mysql-replica-01', upstreams[0])]);
  assert.deepEqual(states(result), {
    'across sources:config_notices': 'success',
    'mysql-replica-01:connectivity': 'success',
    'mysql-replica-01:version': 'success',
    'mysql-replica-01:server_id': 'success',
    'mysql-replica-01:binlog_enable': 'success',
    'mysql-replica-01:binlog_format': 'success',
    'mysql-replica-01:binlog_row_image': 'success',
    'mysql-replica-01:binlog_row_metadata': 'success',
    'mysql-replica-01:binlog_retention': 'success',
    'mysql-replica-01:binlog_db': 'success',
    'mysql-replica-01:migrated_tables': 'success',
    'mysql-replica-01:dump_privilege': 'success',
    'mysql-replica-01:replication_privilege': 'success',
    'mysql-replica-01:conn_number': 'success',
    'mysql-replica-01:table_schema': 'warn',
    'mysql-replica-01:online_ddl': 'success',
    'target:connectivity': 'success',
    'target:version': 'success',
    'target:conn_number': 'success',
    'target:target_privilege': 'success',
    'target:target_compatibility': 'success',
    'target:target_session': 'success',
  });
  assert.equal(result.passed, true);
  assert.deepEqual(
    result.results.map((r) => r.id),
    result.results.map((_, i) => i + 1),
  );
});

test('the target server as a source: binlog is off', {
  skip: targetKindFromEnv() === 'tidb' && "it takes the target for a MariaDB server without a binlog; this run's target is TiDB",
}, async () => {
  await exec(target, ['CREATE DATABASE pc_db', 'CREATE TABLE pc_db.t (id INT PRIMARY KEY)']);
  const result = await precheck(task('all', [instance('target-as-source')]), [source('target-as-source', target)]);
  const enable = item(result, 'binlog_enable')!;
  assert.equal(enable.state, 'fail');
  assert.match(enable.errors[0]!.shortErr, /log_bin is OFF/);
  const format = item(result, 'binlog_format')!;
  assert.equal(format.state, 'fail');
  assert.match(format.errors[0]!.shortErr, /^binlog_format is (MIXED|STATEMENT), must be ROW$/);
  assert.equal(format.instruction, 'set binlog_format=ROW in the server config and restart');
  assert.equal(result.passed, false);
  assert.match(summarizePrecheck(result), /binlog_enable on source "target-as-source" \(127\.0\.0\.1:\d+\): log_bin is OFF/);
});

describe('connectivity', () => {
  test('a wrong password fails naming the source, its address and what to do', async () => {
    const bad = source('mysql-replica-02', { ...upstreams[1], password: 'not-the-password' });
    const result = await precheck(task('all', [instance('mysql-replica-02')]), [bad]);
    const login = item(result, 'connectivity', 'mysql-replica-02')!;
    assert.equal(login.state, 'fail');
    assert.equal(login.address, `${upstreams[1].host}:${upstreams[1].port}`);
    assert.match(login.errors[0]!.shortErr, /access denied for user "root"/);
    assert.match(login.instruction ?? '', /password/);
    assert.deepEqual(
      result.results.filter((r) => r.sourceId === 'mysql-replica-02').map((r) => r.name),
      ['connectivity'],
    );
    assert.equal(result.passed, false);
    assert.match(
      summarizePrecheck(result),
      new RegExp(`connectivity on source "mysql-replica-02" \\(127\\.0\\.0\\.1:${upstreams[1].port}\\): access denied`),
    );
  });

  test('an unregistered source and an unreachable target fail without throwing', async () => {
    const t = task('full', [instance('nobody')]);
    t.target = { ...t.target, port: 1 };
    const result = await precheck(t, []);
    assert.deepEqual(states(result), {
      'across sources:config_notices': 'success',
      'nobody:connectivity': 'fail',
      'target:connectivity': 'fail',
    });
    assert.match(item(result, 'connectivity', 'nobody')!.errors[0]!.shortErr, /not registered/);
    assert.match(summarizePrecheck(result), /connectivity on target \(127\.0\.0\.1:1\): cannot connect/);
  });
});

test('filters that match no table fail, saying which filters were applied', async () => {
  const only = instance('mysql-replica-01', {
    blockAllowList: { doDbs: [], ignoreDbs: [], doTables: [{ dbName: 'pc_db', tblName: 'missing' }], ignoreTables: [] },
  });
  only.mydumper.onlyDbs = ['pc_db'];
  const result = await precheck(task('full', [only]), [source('mysql-replica-01', upstreams[0])]);
  const tables = item(result, 'migrated_tables')!;
  assert.equal(tables.state, 'fail');
  assert.equal(tables.errors[0]!.shortErr, 'no table matches the filters (do-tables: pc_db.missing; mydumper -B: pc_db)');
});

test('ignore-checking-items skips named items, and all of them but connectivity', async () => {
  const sources = [source('mysql-replica-01', upstreams[0])];
  const some = await precheck(task('all', [instance('mysql-replica-01')], ['table_schema', 'binlog_format']), sources);
  assert.equal(item(some, 'table_schema'), undefined);
  assert.equal(item(some, 'binlog_format'), undefined);
  assert.ok(item(some, 'binlog_row_image'));
  const all = await precheck(task('all', [instance('mysql-replica-01')], ['all']), sources);
  assert.deepEqual(states(all), { 'mysql-replica-01:connectivity': 'success', 'target:connectivity': 'success' });
});

test('shards merged from two sources must have the same columns', async () => {
  await exec(upstreams[0], ['CREATE DATABASE pc_shard', 'CREATE TABLE pc_shard.t_1 (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))']);
  await exec(upstreams[1], ['CREATE DATABASE pc_shard', 'CREATE TABLE pc_shard.t_2 (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))']);
  const merge: RouteRule = { name: 'merge', schemaPattern: 'pc_shard', tablePattern: 't_*', targetSchema: 'pc_all', targetTable: 't' };
  const list = { doDbs: ['pc_shard'], ignoreDbs: [], doTables: [], ignoreTables: [] };
  const result = await precheck(
    task('all', [instance('s1', { blockAllowList: list, routes: [merge] }), instance('s2', { blockAllowList: list, routes: [merge] })]),
    [source('s1', upstreams[0]), source('s2', upstreams[1])],
  );
  const shards = item(result, 'schema_of_shard_tables')!;
  assert.equal(shards.state, 'fail');
  assert.equal(shards.sourceId, undefined);
  assert.deepEqual(
    shards.errors.map((e) => e.shortErr),
    [
      '`pc_shard`.`t_2` on source "s2" and `pc_shard`.`t_1` on source "s1" both merge into `pc_all`.`t` but differ: column `id` is bigint(20) not null, not int(11) not null',
    ],
  );
  const auto = item(result, 'auto_increment_ID')!;
  assert.equal(auto.state, 'warn');
  assert.match(auto.errors[0]!.shortErr, /`pc_shard`\.`t_1` on source "s1", `pc_shard`\.`t_2` on source "s2" merge into `pc_all`\.`t`/);
  assert.equal(item(result, 'target_privilege')?.state, 'success');
});

test('a source.yaml flavor that does not match the server is a version warning', async () => {
  const wrong: SourceConfig = { ...source('mysql-replica-01', upstreams[0]), flavor: 'mysql' };
  const result = await precheck(task('full', [instance('mysql-replica-01')]), [wrong]);
  const version = item(result, 'version')!;
  assert.equal(version.state, 'warn');
  assert.match(version.errors[0]!.shortErr, /says flavor mysql but the server is MariaDB 10\./);
  assert.match(version.instruction ?? '', /flavor: mariadb/);
});

test('online_ddl fails while a shadow table of gh-ost or pt-osc exists beside a migrated table; trash tables and online-ddl: false do not', async () => {
  await exec(upstreams[0], ['CREATE TABLE pc_db._orders_gho LIKE pc_db.orders', 'CREATE TABLE pc_db._orders_old LIKE pc_db.orders']);
  try {
    const sources = [source('mysql-replica-01', upstreams[0])];
    const result = await precheck(task('all', [instance('mysql-replica-01')]), sources);
    const online = item(result, 'online_ddl')!;
    assert.equal(online.state, 'fail');
    assert.deepEqual(
      online.errors.map((e) => e.shortErr),
      ['shadow table `pc_db`.`_orders_gho` of `pc_db`.`orders` exists: an online schema change is under way'],
    );
    assert.match(online.instruction ?? '', /let the run finish/);
    // The tools' tables are not migrated tables: no key or schema findings about them.
    assert.ok(!JSON.stringify(item(result, 'table_schema')).includes('_orders_'));
    assert.equal(
      item(await precheck({ ...task('all', [instance('mysql-replica-01')]), onlineDdl: false }, sources), 'online_ddl'),
      undefined,
    );
  } finally {
    await exec(upstreams[0], ['DROP TABLE pc_db._orders_gho', 'DROP TABLE pc_db._orders_old']);
  }
});
