import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  ACCEPTED_IGNORED_TASK_KEYS,
  parseTaskObject,
  parseTaskYaml,
  serializeTaskForStore,
  taskFromStore,
} from '../../src/shared/config/task.js';
import type { DumperConfig, TaskConfig } from '../../src/shared/config/types.js';
import { DmqError } from '../../src/shared/errors.js';

const seedYaml = readFileSync(new URL('../../examples/task.yaml', import.meta.url), 'utf8');

/** The smallest valid task, as a JSON body; cases below add to it. */
function base(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 't1',
    'task-mode': 'all',
    'target-database': { host: 'tidb', user: 'root' },
    'mysql-instances': [{ 'source-id': 's1' }],
    ...extra,
  };
}

function configError(fn: () => unknown, code: 'CONFIG_INVALID' | 'CONFIG_YAML' = 'CONFIG_INVALID'): DmqError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DmqError, `expected a DmqError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail('expected a config error');
}

describe('task.yaml: the seed example', () => {
  test('parses to the expected normalized task', () => {
    const dumper: DumperConfig = {
      threads: 4,
      rows: 0,
      extraArgs: '-B test_db -T test_table',
      onlyDbs: ['test_db'],
      onlyTables: ['test_table'],
      noLocks: false,
    };
    const instance = (sourceId: string) => ({
      sourceId,
      blockAllowList: {
        doDbs: [],
        ignoreDbs: [],
        doTables: [{ dbName: 'test_db', tblName: 'test_table' }],
        ignoreTables: [],
      },
      routes: [],
      filters: [],
      expressionFilters: [],
      mydumper: dumper,
      loader: { poolSize: 16, onDuplicate: 'replace' as const },
      syncer: { workerCount: 16, batch: 100, safeMode: false, safeModeDuration: '60s', compact: false, multipleRows: false },
      validator: {
        mode: 'none' as const,
        workerCount: 4,
        validateIntervalMs: 10_000,
        checkIntervalMs: 5_000,
        rowErrorDelayMs: 1_800_000,
        metaFlushIntervalMs: 300_000,
        batchQuerySize: 100,
        maxPendingRowSize: 500 * 1024 * 1024,
        maxPendingRowCount: 2 ** 31 - 1,
      },
    });
    const expected: TaskConfig = {
      name: 'test',
      taskMode: 'all',
      shardMode: '',
      metaSchema: 'dm_meta',
      caseSensitive: false,
      onlineDdl: true,
      shadowTableRules: ['^_(.+)_(?:new|gho)$'],
      trashTableRules: ['^_(.+)_(?:ghc|del|old)$'],
      cleanDumpFile: true,
      ignoreCheckingItems: [],
      target: { host: '127.0.0.1', port: 4000, user: 'root', password: '', session: {} },
      instances: [instance('mysql-replica-01'), instance('mysql-replica-02')],
      notices: [],
    };
    assert.deepEqual(parseTaskYaml(seedYaml), expected);
  });

  test('the YAML and the same value as a JSON body give the same task', () => {
    const body = {
      name: 'test',
      'task-mode': 'all',
      'target-database': { host: '127.0.0.1', port: 4000, user: 'root', password: '' },
      'mysql-instances': [
        { 'source-id': 'mysql-replica-01', 'black-white-list': 'global', 'mydumper-config-name': 'global' },
        { 'source-id': 'mysql-replica-02', 'black-white-list': 'global', 'mydumper-config-name': 'global' },
      ],
      'black-white-list': { global: { 'do-tables': [{ 'db-name': 'test_db', 'tbl-name': 'test_table' }] } },
      mydumpers: { global: { 'extra-args': '-B test_db -T test_table' } },
    };
    assert.deepEqual(parseTaskObject(body), parseTaskYaml(seedYaml));
  });
});

describe('task.yaml: values and defaults', () => {
  const cases: { name: string; input: Record<string, unknown>; check: (t: TaskConfig) => void }[] = [
    {
      name: "DM's zero values mean unset, as in the configs dmctl get-config writes",
      input: base({
        'mysql-instances': [
          {
            'source-id': 's1',
            'black-white-list': '',
            'mydumper-config-name': '',
            'mydumper-thread': 0,
            'loader-thread': 0,
            'syncer-thread': 0,
            meta: { 'binlog-name': 'mysql-bin.000002', 'binlog-pos': '4' },
          },
        ],
        loaders: { l: { 'on-duplicate': '', 'on-duplicate-logical': 'ignore' } },
        mydumpers: { d: { 'chunk-filesize': 0 } },
        syncers: { s: { 'safe-mode-duration': 0 } },
      }),
      check: (t) => {
        const instance = t.instances[0]!;
        assert.equal(instance.blockAllowList, null);
        assert.equal(instance.mydumper.threads, 4);
        assert.equal(instance.loader.poolSize, 16);
        assert.equal(instance.syncer.workerCount, 16);
        assert.deepEqual(instance.startPosition, { binlogName: 'mysql-bin.000002', binlogPos: 4 });
        assert.deepEqual(t.notices, []);
      },
    },
    {
      name: 'a filter rule naming an event DM does not know is dropped, as DM drops it, and said',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'filter-rules': ['user-filter-1', 'kept'] }],
        filters: {
          'user-filter-1': {
            'schema-pattern': '*',
            'table-pattern': '*',
            events: ['truncate table', 'drop table', 'truncate'],
            action: 'Ignore',
          },
          kept: { 'schema-pattern': 'db', events: ['delete'], action: 'Ignore' },
        },
      }),
      check: (t) => {
        assert.deepEqual(
          t.instances[0]!.filters.map((f) => f.name),
          ['kept'],
        );
        assert.equal(t.notices.length, 1);
        assert.equal(t.notices[0]!.field, 'filters.user-filter-1.events[2]');
        assert.match(t.notices[0]!.note, /unknown event "truncate": DM ignores the whole rule "user-filter-1"/);
      },
    },
    {
      name: 'ignored fields set to something are notices; defaults that ask for nothing are not',
      input: base({
        'enable-heartbeat': false,
        'remove-meta': false,
        'heartbeat-update-interval': 1,
        syncers: { s: { 'queue-size': 1024, 'max-retry': 0 } },
        'mysql-instances': [{ 'source-id': 's1', mydumper: { 'mydumper-path': './bin/mydumper' } }],
      }),
      check: (t) =>
        assert.deepEqual(
          t.notices.map((n) => n.field),
          ['heartbeat-update-interval', 'mysql-instances[0].mydumper.mydumper-path', 'syncers.s.queue-size'],
        ),
    },
    {
      name: 'tidb_txn_mode optimistic, as dmctl get-config writes it, is not applied, with a notice',
      input: base({ 'target-database': { host: 'h', user: 'u', session: { tidb_txn_mode: 'optimistic', tidb_skip_utf8_check: 1 } } }),
      check: (t) => {
        assert.deepEqual(t.target.session, { tidb_skip_utf8_check: 1 });
        assert.equal(t.notices[0]!.field, 'target-database.session.tidb_txn_mode');
        assert.match(t.notices[0]!.note, /"optimistic" not applied: dmq runs its transactions pessimistic/);
      },
    },
    {
      name: 'a time_zone in target-database.session becomes the task timezone, for both ends',
      input: base({ 'target-database': { host: 'h', user: 'u', session: { time_zone: '+04:00', sql_mode: '' } } }),
      check: (t) => {
        assert.equal(t.timezone, '+04:00');
        assert.deepEqual(t.target.session, { sql_mode: '' });
      },
    },
    {
      name: "the task's timezone wins over a session time_zone, as in DM, with a notice",
      input: base({ timezone: 'Asia/Shanghai', 'target-database': { host: 'h', user: 'u', session: { TIME_ZONE: '+04:00' } } }),
      check: (t) => {
        assert.equal(t.timezone, 'Asia/Shanghai');
        assert.deepEqual(t.target.session, {});
        assert.equal(t.notices[0]!.field, 'target-database.session.TIME_ZONE');
      },
    },
    {
      name: 'is-sharding: true is pessimistic shard mode',
      input: base({ 'is-sharding': true }),
      check: (t) => assert.equal(t.shardMode, 'pessimistic'),
    },
    {
      name: 'shard-mode wins over is-sharding',
      input: base({ 'is-sharding': true, 'shard-mode': 'optimistic' }),
      check: (t) => assert.equal(t.shardMode, 'optimistic'),
    },
    {
      name: 'ignore-checking-items as a single string, lower-cased',
      input: base({ 'ignore-checking-items': 'ALL' }),
      check: (t) => assert.deepEqual(t.ignoreCheckingItems, ['all']),
    },
    {
      name: 'ignore-checking-items as a list, lower-cased',
      input: base({ 'ignore-checking-items': ['auto_increment_ID', 'Dump_Privilege'] }),
      check: (t) => assert.deepEqual(t.ignoreCheckingItems, ['auto_increment_id', 'dump_privilege']),
    },
    {
      name: 'top-level switches and meta-schema',
      input: base({
        'meta-schema': 'dmq_meta',
        'case-sensitive': true,
        'online-ddl': false,
        'shadow-table-rules': ['^(.+)_shadow$'],
        'trash-table-rules': ['^(.+)_trash$', '^(.+)_bak$'],
        'clean-dump-file': false,
        timezone: 'Asia/Shanghai',
      }),
      check: (t) => {
        assert.equal(t.metaSchema, 'dmq_meta');
        assert.equal(t.caseSensitive, true);
        assert.equal(t.onlineDdl, false);
        assert.deepEqual(t.shadowTableRules, ['^(.+)_shadow$']);
        assert.deepEqual(t.trashTableRules, ['^(.+)_trash$', '^(.+)_bak$']);
        assert.equal(t.cleanDumpFile, false);
        assert.equal(t.timezone, 'Asia/Shanghai');
      },
    },
    {
      name: 'target password is decrypted; session and port kept; booleans become ON/OFF',
      input: base({
        'target-database': {
          host: 'tidb',
          port: 4001,
          user: 'root',
          password: 'VjX8cEeTX+qcvZ3bPaO4h0C80pe/1aU=',
          session: { sql_mode: 'NO_ENGINE_SUBSTITUTION', max_execution_time: 0, tidb_enable_clustered_index: true },
        },
      }),
      check: (t) =>
        assert.deepEqual(t.target, {
          host: 'tidb',
          port: 4001,
          user: 'root',
          password: '123456',
          session: { sql_mode: 'NO_ENGINE_SUBSTITUTION', max_execution_time: 0, tidb_enable_clustered_index: 'ON' },
        }),
    },
    {
      name: 'inline mydumper/loader/syncer and the thread shorthands (shorthands win)',
      input: base({
        'mysql-instances': [
          {
            'source-id': 's1',
            mydumper: { threads: 8, rows: 5000, 'chunk-filesize': '64' },
            loader: { 'pool-size': 4, 'on-duplicate': 'ignore', dir: './dump' },
            syncer: {
              'worker-count': 4,
              batch: 10,
              'safe-mode': true,
              'safe-mode-duration': '2m30s',
              compact: true,
              'multiple-rows': true,
            },
            'mydumper-thread': 2,
            'loader-thread': 3,
            'syncer-thread': 5,
          },
        ],
      }),
      check: (t) => {
        const i = t.instances[0]!;
        assert.deepEqual(i.mydumper, {
          threads: 2,
          rows: 5000,
          chunkFilesize: 64,
          extraArgs: '',
          onlyDbs: [],
          onlyTables: [],
          noLocks: false,
        });
        assert.deepEqual(i.loader, { poolSize: 3, onDuplicate: 'ignore', dir: './dump' });
        assert.deepEqual(i.syncer, {
          workerCount: 5,
          lanes: 5,
          batch: 10,
          safeMode: true,
          safeModeDuration: '2m30s',
          compact: true,
          multipleRows: true,
        });
      },
    },
    {
      name: 'a shorthand on one instance does not leak into another sharing the named config',
      input: base({
        'mysql-instances': [
          { 'source-id': 's1', 'mydumper-config-name': 'g', 'mydumper-thread': 9 },
          { 'source-id': 's2', 'mydumper-config-name': 'g' },
        ],
        mydumpers: { g: { threads: 3 } },
      }),
      check: (t) =>
        assert.deepEqual(
          t.instances.map((i) => i.mydumper.threads),
          [9, 3],
        ),
    },
    {
      name: 'extra-args: long forms, quoting, no-locks, rows and threads',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'mydumper-config-name': 'g' }],
        mydumpers: { g: { 'extra-args': `--database=a,b --tables-list "a.t 1",b.u --no-locks -r 1000 --threads 6 -F 256 --skip-tz-utc` } },
      }),
      check: (t) =>
        assert.deepEqual(t.instances[0]!.mydumper, {
          threads: 6,
          rows: 1000,
          extraArgs: `--database=a,b --tables-list "a.t 1",b.u --no-locks -r 1000 --threads 6 -F 256 --skip-tz-utc`,
          onlyDbs: ['a', 'b'],
          onlyTables: ['a.t 1', 'b.u'],
          noLocks: true,
        }),
    },
    {
      name: 'extra-args: --consistency none means no locks; explicit threads beat -t',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', mydumper: { threads: 2, 'extra-args': '--consistency none -t 12 -B db1 -B db2' } }],
      }),
      check: (t) => {
        const d = t.instances[0]!.mydumper;
        assert.equal(d.noLocks, true);
        assert.equal(d.threads, 2);
        assert.deepEqual(d.onlyDbs, ['db1', 'db2']);
      },
    },
    {
      name: 'block-allow-list, routes and filters are resolved per instance',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'block-allow-list': 'ba', 'route-rules': ['r1', 'r2'], 'filter-rules': ['f1'] }],
        'block-allow-list': { ba: { 'do-dbs': ['~^shard_\\d+$'], 'ignore-tables': [{ 'db-name': '*', 'tbl-name': 'tmp_*' }] } },
        routes: {
          r1: { 'schema-pattern': 'shard_*', 'target-schema': 'merged' },
          r2: {
            'schema-pattern': 'shard_*',
            'table-pattern': 't_*',
            'target-schema': 'merged',
            'target-table': 't',
            'extract-table': { 'table-regexp': 't_(.*)', 'target-column': 'c_table' },
            'extract-source': { 'source-regexp': '(.*)', 'target-column': 'c_source' },
          },
        },
        filters: {
          f1: {
            'schema-pattern': 'shard_*',
            events: ['Truncate Table', 'DROP  TABLE', 'drop schema', 'reorganize table partition'],
            'sql-pattern': ['^DROP\\s'],
            action: 'ignore',
          },
        },
      }),
      check: (t) => {
        const i = t.instances[0]!;
        assert.deepEqual(i.blockAllowList, {
          doDbs: ['~^shard_\\d+$'],
          ignoreDbs: [],
          doTables: [],
          ignoreTables: [{ dbName: '*', tblName: 'tmp_*' }],
        });
        assert.deepEqual(i.routes, [
          { name: 'r1', schemaPattern: 'shard_*', targetSchema: 'merged' },
          {
            name: 'r2',
            schemaPattern: 'shard_*',
            tablePattern: 't_*',
            targetSchema: 'merged',
            targetTable: 't',
            extractTable: { tableRegexp: 't_(.*)', targetColumn: 'c_table' },
            extractSource: { sourceRegexp: '(.*)', targetColumn: 'c_source' },
          },
        ]);
        assert.deepEqual(i.filters, [
          {
            name: 'f1',
            schemaPattern: 'shard_*',
            events: ['truncate table', 'drop table', 'drop database', 'reorganize table partition'],
            sqlPattern: ['^DROP\\s'],
            action: 'Ignore',
          },
        ]);
      },
    },
    {
      name: 'meta is kept for incremental starts',
      input: base({
        'task-mode': 'incremental',
        'mysql-instances': [{ 'source-id': 's1', meta: { 'binlog-name': 'mysql-bin.000003', 'binlog-pos': 194, 'binlog-gtid': '' } }],
      }),
      check: (t) => assert.deepEqual(t.instances[0]!.startPosition, { binlogName: 'mysql-bin.000003', binlogPos: 194 }),
    },
    {
      name: 'expression filters are resolved per instance, as written',
      input: base({
        'mysql-instances': [
          { 'source-id': 's1', 'expression-filters': ['even', 'moved'] },
          { 'source-id': 's2', 'expression-filters': ['moved'] },
        ],
        'expression-filter': {
          even: { schema: 'expr_filter', table: 't2', 'insert-value-expr': 'c % 2 = 0' },
          moved: {
            schema: 'expr_filter',
            table: 't5',
            'update-old-value-expr': 'c = 1',
            'update-new-value-expr': 'c = 2',
            'delete-value-expr': '',
          },
          unused: { schema: 'x', table: 'y', 'delete-value-expr': "note = 'gone' -- a comment" },
        },
      }),
      check: (t) => {
        const moved = { name: 'moved', schema: 'expr_filter', table: 't5', updateOldValueExpr: 'c = 1', updateNewValueExpr: 'c = 2' };
        assert.deepEqual(t.instances[0]!.expressionFilters, [
          { name: 'even', schema: 'expr_filter', table: 't2', insertValueExpr: 'c % 2 = 0' },
          moved,
        ]);
        assert.deepEqual(t.instances[1]!.expressionFilters, [moved]);
      },
    },
    {
      name: "validators: DM's defaults under the fields set; none when no validator is named",
      input: base({
        validators: { v: { mode: 'fast', 'row-error-delay': '1m30s', 'max-pending-row-size': '1g', 'start-time': '2021-10-21 00:01:00' } },
        'mysql-instances': [{ 'source-id': 's1', 'validator-config-name': 'v' }, { 'source-id': 's2' }],
      }),
      check: (t) => {
        assert.deepEqual(t.instances[0]!.validator, {
          mode: 'fast',
          workerCount: 4,
          validateIntervalMs: 10_000,
          checkIntervalMs: 5_000,
          rowErrorDelayMs: 90_000,
          metaFlushIntervalMs: 300_000,
          batchQuerySize: 100,
          maxPendingRowSize: 2 ** 30,
          maxPendingRowCount: 2 ** 31 - 1,
          startTime: '2021-10-21 00:01:00',
        });
        assert.equal(t.instances[1]!.validator.mode, 'none');
      },
    },
    {
      name: 'accepted-and-ignored keys at every level parse',
      input: base({
        'enable-heartbeat': true,
        'heartbeat-update-interval': 1,
        'remove-meta': false,
        collation_compatible: 'strict',
        'online-ddl-scheme': 'gh-ost',
        'column-mappings': {},
        'expression-filter': {},
        validators: { v: { mode: 'full' } },
        'target-database': { host: 'tidb', user: 'root', 'max-allowed-packet': 67108864 },
        'mysql-instances': [{ 'source-id': 's1', 'validator-config-name': 'v', 'column-mapping-rules': [], 'expression-filters': [] }],
        mydumpers: { g: { 'mydumper-path': './bin/mydumper', 'statement-size': 100, 'skip-tz-utc': true, where: '' } },
        loaders: { l: { 'import-mode': 'logical', 'on-duplicate-physical': 'none' } },
        syncers: { s: { 'max-retry': 100, 'enable-ansi-quotes': true, 'checkpoint-flush-interval': 30 } },
      }),
      check: (t) => assert.equal(t.name, 't1'),
    },
  ];
  for (const c of cases) test(c.name, () => c.check(parseTaskObject(c.input)));

  test('every accepted-and-ignored key is documented with a reason', () => {
    const keys = ACCEPTED_IGNORED_TASK_KEYS.map((k) => k.key);
    for (const key of [
      'enable-heartbeat',
      'remove-meta',
      'collation_compatible',
      'strict-optimistic-shard-mode',
      'online-ddl-scheme',
      'status-schema',
      'enable-ansi-quotes',
      'mydumpers.<name>.where',
    ]) {
      assert.ok(keys.includes(key), key);
    }
    assert.ok(ACCEPTED_IGNORED_TASK_KEYS.every((k) => k.reason.length > 0));
  });

  test('YAML numbers keep their text in string fields', () => {
    const yaml =
      'name: t1\ntask-mode: full\ntarget-database: {host: tidb, user: root, password: 0123}\nmysql-instances: [{source-id: s1}]\n';
    assert.equal(parseTaskYaml(yaml).target.password, '0123');
  });

  test('store round trip encrypts the target password', () => {
    const task = parseTaskObject(base({ 'target-database': { host: 'tidb', user: 'root', password: 's3cret' } }));
    const stored = JSON.parse(JSON.stringify(serializeTaskForStore(task)));
    assert.notEqual(stored.target.password, 's3cret');
    assert.ok(!JSON.stringify(stored).includes('s3cret'));
    assert.deepEqual(taskFromStore(stored), task);
  });
});

describe('task.yaml: errors name the field', () => {
  const cases: { name: string; input: Record<string, unknown> | string; expect: (string | RegExp)[] }[] = [
    {
      name: 'unknown top-level field, with the allowed keys',
      input: base({ foo: 1 }),
      expect: ['unknown field "foo" at top level', /allowed: name, task-mode/],
    },
    {
      name: 'validators: unknown fields, modes, durations, sizes and names',
      input: base({
        validators: {
          v: { mode: 'slow', 'row-error-delay': '5 minutes', 'max-pending-row-size': 'lots', 'worker-count': -1 },
          w: { 'row-eror-delay': '1s' },
        },
        'mysql-instances': [{ 'source-id': 's1', 'validator-config-name': 'missing' }],
      }),
      expect: [
        'validators.v.mode: expected one of "full", "fast", "none"',
        'validators.v.row-error-delay: expected a Go duration',
        'validators.v.max-pending-row-size: expected a size',
        'validators.v.worker-count: expected a positive integer',
        'unknown field "row-eror-delay" at validators.w; allowed: mode, worker-count',
      ],
    },
    {
      name: 'validator-config-name must name a validator',
      input: base({ validators: { v: { mode: 'full' } }, 'mysql-instances': [{ 'source-id': 's1', 'validator-config-name': 'x' }] }),
      expect: ['mysql-instances[0].validator-config-name: "x" is not defined under validators (defined: v)'],
    },
    {
      name: 'unknown nested field, with a spelling hint',
      input: base({ 'mysql-instances': [{ 'source-id': 's1', source_id: 'x' }] }),
      expect: ['unknown field "source_id" at mysql-instances[0]; did you mean "source-id"?'],
    },
    {
      name: 'unknown field in a named config',
      input: base({ mydumpers: { global: { thread: 4 } } }),
      expect: ['unknown field "thread" at mydumpers.global'],
    },
    {
      name: 'missing source-id',
      input: base({ 'mysql-instances': [{ 'source-id': 's1' }, { 'block-allow-list': 'x' }] }),
      expect: ['mysql-instances[1].source-id: required'],
    },
    {
      name: 'bad task-mode lists the allowed modes',
      input: base({ 'task-mode': 'fulll' }),
      expect: ['task-mode: expected one of "full", "incremental", "all", "dump", "load", got "fulll"'],
    },
    {
      name: 'missing required top-level fields',
      input: { name: 't1' },
      expect: ['task-mode: required', 'target-database: required', 'mysql-instances: required'],
    },
    {
      name: 'bad threads type',
      input: base({ mydumpers: { global: { threads: 'four' } } }),
      expect: ['mydumpers.global.threads: expected a positive integer, got "four"'],
    },
    {
      name: 'negative threads in a shorthand',
      input: base({ 'mysql-instances': [{ 'source-id': 's1', 'syncer-thread': -1 }] }),
      expect: ['mysql-instances[0].syncer-thread: expected a positive integer, got -1'],
    },
    {
      name: "a timezone DM refuses, in DM's words",
      input: base({ timezone: 'SYSTEM' }),
      expect: ["timezone: invalid timezone string [code=20008]: \"SYSTEM\"; 'SYSTEM' or 'Local' is not supported"],
    },
    {
      name: 'an offset out of range or a zone that does not exist',
      input: base({ timezone: '+15:00', 'target-database': { host: 'h', user: 'u', session: { time_zone: 'Mars/Olympus' } } }),
      expect: ['timezone: invalid timezone string [code=20008]: "+15:00"; an offset must be within -12:59 and +14:00'],
    },
    {
      name: 'safe-mode with a zero safe-mode-duration, as DM refuses it',
      input: base({ syncers: { g: { 'safe-mode': true, 'safe-mode-duration': 0 } } }),
      expect: ['syncers.g.safe-mode-duration: safe-mode(true) conflicts with safe-mode-duration(0s) [code=20061]'],
    },
    {
      name: 'undefined block-allow-list names what is defined',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'block-allow-list': 'nope' }],
        'block-allow-list': { global: { 'do-dbs': ['a'] } },
      }),
      expect: ['mysql-instances[0].block-allow-list: "nope" is not defined under block-allow-list (defined: global)'],
    },
    {
      name: 'undefined mydumper, route and filter references',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'mydumper-config-name': 'm', 'route-rules': ['r1'], 'filter-rules': ['f1'] }],
      }),
      expect: [
        'mysql-instances[0].mydumper-config-name: "m" is not defined under mydumpers (defined: nothing)',
        'mysql-instances[0].route-rules[0]: "r1" is not defined under routes',
        'mysql-instances[0].filter-rules[0]: "f1" is not defined under filters',
      ],
    },
    {
      name: 'duplicate source-id',
      input: base({ 'mysql-instances': [{ 'source-id': 's1' }, { 'source-id': 's2' }, { 'source-id': 's1' }] }),
      expect: ['mysql-instances[2].source-id: "s1" is already used by mysql-instances[0]'],
    },
    {
      name: '--where in extra-args',
      input: base({ mydumpers: { global: { 'extra-args': "-B db --where 'id > 10'" } } }),
      expect: ['mydumpers.global.extra-args: option --where is not supported'],
    },
    {
      name: '-x/--regex, unknown options and bad counts in extra-args',
      input: base({ mydumpers: { global: { 'extra-args': "-x '^db\\.' --bogus -r many" } } }),
      expect: [
        'mydumpers.global.extra-args: option -x is not supported',
        'mydumpers.global.extra-args: unknown option "--bogus"',
        'mydumpers.global.extra-args: option -r expects a non-negative integer, got "many"',
      ],
    },
    {
      name: 'inline mydumper extra-args errors use the instance path',
      input: base({ 'mysql-instances': [{ 'source-id': 's1', mydumper: { 'extra-args': '--no-data' } }] }),
      expect: ['mysql-instances[0].mydumper.extra-args: option --no-data is not supported'],
    },
    {
      name: 'task name with characters dmq cannot use, and why',
      input: base({ name: 'my task!' }),
      expect: ['name: "my task!" must be 1 to 64 letters, digits, "_" or "-" (dmq uses the task name in queue and table names)'],
    },
    {
      name: 'invalid patterns and regexps',
      input: base({
        'block-allow-list': { g: { 'do-dbs': ['~(unclosed'], 'do-tables': [{ 'db-name': 'a', 'tbl-name': 'b[c' }] } },
        filters: { f: { 'schema-pattern': '*', events: ['delete'], action: 'Skip' } },
      }),
      expect: [
        'block-allow-list.g.do-dbs[0]: invalid regular expression "~(unclosed"',
        'block-allow-list.g.do-tables[0].tbl-name: invalid wildcard pattern "b[c"',
        'filters.f.action: expected one of Do, Ignore, Error, got "Skip"',
      ],
    },
    {
      name: 'patterns RE2 does not take (lookaround, backreferences) name the field and give the RE2 error',
      input: base({
        'block-allow-list': { g: { 'do-tables': [{ 'db-name': 'a', 'tbl-name': '~^t(?=_)' }] } },
        routes: { r: { 'schema-pattern': 'a', 'extract-table': { 'table-regexp': '(a)\\1', 'target-column': 'c' } } },
        filters: { f: { 'schema-pattern': '*', 'sql-pattern': ['^DROP(?!x)'], action: 'Ignore' } },
      }),
      expect: [
        'block-allow-list.g.do-tables[0].tbl-name: invalid regular expression "~^t(?=_)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`',
        'routes.r.extract-table.table-regexp: invalid regular expression "(a)\\\\1": error parsing regexp: invalid escape sequence: `\\1`',
        'filters.f.sql-pattern[0]: invalid regular expression "^DROP(?!x)": error parsing regexp: invalid or unsupported Perl syntax: `(?!`',
      ],
    },
    {
      name: 'online-DDL table rules must compile and capture the real table name',
      input: base({ 'shadow-table-rules': ['^_(.+)_gho$', '^_(?:.+)_new$'], 'trash-table-rules': ['^_(.+_del'] }),
      expect: [
        'shadow-table-rules[1]: "^_(?:.+)_new$" has no group: its first group must capture the name of the real table',
        'trash-table-rules[0]: invalid regular expression "^_(.+_del"',
      ],
    },
    {
      name: "target session settings that dmq's escaping depends on are refused, naming the variable",
      input: base({
        'target-database': {
          host: 'tidb',
          user: 'root',
          session: {
            sql_mode: 'STRICT_TRANS_TABLES,no_backslash_escapes',
            character_set_client: 'gbk',
            COLLATION_CONNECTION: 'sjis_japanese_ci',
            'x; DROP TABLE t': 1,
          },
        },
      }),
      expect: [
        'target-database.session.sql_mode: NO_BACKSLASH_ESCAPES is not allowed: dmq escapes values with backslashes',
        'target-database.session.character_set_client: dmq sends and reads text as utf8mb4',
        'target-database.session.COLLATION_CONNECTION: dmq sends and reads text as utf8mb4',
        'target-database.session.x; DROP TABLE t: not a system variable name',
      ],
    },
    {
      name: 'sql_mode combinations that include ANSI_QUOTES are refused',
      input: base({ 'target-database': { host: 'tidb', user: 'root', session: { sql_mode: ' ansi ' } } }),
      expect: [
        'target-database.session.sql_mode: ANSI (which includes ANSI_QUOTES) is not allowed: dmq and replicated DDL write "..." as strings',
      ],
    },
    {
      name: 'a numeric sql_mode is refused: dmq could not tell what it holds',
      input: base({ 'target-database': { host: 'tidb', user: 'root', session: { sql_mode: 4 } } }),
      expect: ['target-database.session.sql_mode: give sql_mode as mode names'],
    },
    {
      name: 'options DM forbids together',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'mydumper-config-name': 'g', mydumper: { threads: 1 } }],
        mydumpers: { g: {} },
        'block-allow-list': { a: {} },
        'black-white-list': { a: {} },
      }),
      expect: [
        'mysql-instances[0]: set either mydumper-config-name or mydumper, not both',
        'black-white-list: set either block-allow-list or black-white-list',
      ],
    },
    {
      name: 'keys that would change the data are refused unless empty',
      input: base({ mydumpers: { g: { where: 'id > 1' } } }),
      expect: ['mydumpers.g.where: not supported by dmq'],
    },
    {
      name: 'expression filters: one kind each, defined names, one expression each',
      input: base({
        'mysql-instances': [{ 'source-id': 's1', 'expression-filters': ['both', 'missing', 'both', 'bad'] }],
        'expression-filter': {
          both: { schema: 'a', table: 'b', 'insert-value-expr': 'c > 1', 'update-new-value-expr': 'c > 2' },
          bad: {
            schema: 'a',
            table: 'b',
            'update-old-value-expr': 'c = 1; DROP TABLE a.b; SELECT (1',
            'update-new-value-expr': '(c > 2',
          },
          quoted: { schema: 'a', table: 'b', 'delete-value-expr': "c = 'x\\';'" },
          closing: { schema: 'a', table: 'b', 'delete-value-expr': 'c > 1) OR (1 = 1' },
          blank: { schema: 'a', table: 'b', 'insert-value-expr': ' -- nothing' },
        },
      }),
      expect: [
        'expression-filter.both: an expression filter can only specify one of (insert, update, delete) expressions, but this one has insert-value-expr, update-old-value-expr/update-new-value-expr; write one filter for each',
        'expression-filter.bad.update-old-value-expr: holds a ";"',
        'expression-filter.bad.update-new-value-expr: leaves a parenthesis open',
        'expression-filter.quoted.delete-value-expr: holds a string with both ";" and a backslash',
        'expression-filter.closing.delete-value-expr: closes a parenthesis it did not open',
        'expression-filter.blank.insert-value-expr: holds no expression',
        'mysql-instances[0].expression-filters[1]: "missing" is not defined under expression-filter',
        'mysql-instances[0].expression-filters[2]: "both" is listed twice',
      ],
    },
    {
      name: 'an expression filter without schema or table (as DM)',
      input: base({ 'expression-filter': { e: { schema: 'a', table: '', 'insert-value-expr': 'c > 1' }, f: { table: 'b' } } }),
      expect: ['expression-filter.e.table: must not be empty', 'expression-filter.f.schema: required'],
    },
    {
      name: 'a route with target-table but no table-pattern',
      input: base({ routes: { r: { 'schema-pattern': 'a', 'target-schema': 'b', 'target-table': 'c' } } }),
      expect: ['routes.r.target-table: needs a table-pattern'],
    },
    {
      name: 'malformed YAML (CONFIG_YAML, with the position)',
      input: 'name: t1\nmysql-instances: [\n  - source-id: a\n',
      expect: [/task\.yaml is not valid YAML/, /line \d+, column \d+/],
    },
    {
      name: 'a duplicate key in YAML',
      input: 'name: t1\nname: t2\n',
      expect: [/Map keys must be unique at line 2, column 1/],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const isYaml = typeof c.input === 'string';
      const err = configError(
        () => (typeof c.input === 'string' ? parseTaskYaml(c.input) : parseTaskObject(c.input)),
        isYaml ? 'CONFIG_YAML' : 'CONFIG_INVALID',
      );
      for (const e of c.expect) {
        if (typeof e === 'string') assert.ok(err.message.includes(e), `expected ${JSON.stringify(e)} in:\n${err.message}`);
        else assert.match(err.message, e);
      }
    });
  }

  test('all problems are reported at once, one per line', () => {
    const err = configError(() =>
      parseTaskObject(
        base({
          'mysql-instances': [
            { 'source-id': 's1', 'block-allow-list': 'x' },
            { 'source-id': 's1', 'route-rules': ['r'] },
          ],
        }),
      ),
    );
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'task config has 3 problems:');
    assert.equal(lines.length, 4);
  });

  test('YAML syntax errors carry the position in `where`', () => {
    const err = configError(() => parseTaskYaml('name: [\n'), 'CONFIG_YAML');
    assert.match(err.where ?? '', /^task\.yaml line \d+, column \d+$/);
  });
});
