import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, type DmqErrorCode, type ErrorClass } from '../../src/shared/error-codes.js';
import { DmqError, errorClass, pausesTaskAtOnce, type ErrorSite } from '../../src/shared/errors.js';

/** What mysql2 (and zongji's mysql) throw when the server answers with an error packet. */
const serverError = (errno: number) => Object.assign(new Error(`server error ${errno}`), { errno, sqlState: 'HY000' });
const dmq = (code: DmqErrorCode) => new DmqError(code, code);

// The codes jobs or the binlog reader paused on at once before there was one table, and the
// codes only the API and the CLI meet (where nothing retries them).
test('the codes only the operator can fix', () => {
  const operator = Object.entries(ERROR_CODES)
    .filter(([, cls]) => cls === 'operator')
    .map(([code]) => code)
    .sort();
  assert.deepEqual(operator, [
    'ACCESS_DENIED',
    'APPLY_REJECTED',
    'BINLOG_SCHEMA',
    'CONFIG_INVALID',
    'CONFIG_YAML',
    'DDL_REJECTED',
    'DDL_UNSUPPORTED',
    'DIFF_NOT_FOUND',
    'DIFF_RUNNING',
    'DUMP_FILE_MISSING',
    'DUMP_KEY_INVALID',
    'EVENT_FILTERED',
    'EXPRESSION_FILTER_FAILED',
    'FORBIDDEN',
    'LOAD_CONFLICT',
    'MEDIA_TYPE_REFUSED',
    'PLAN_FAILED',
    'PRECHECK_FAILED',
    'SCHEMA_NOT_TRACKED',
    'SHARD_DDL_CONFLICT',
    'SOURCE_EXISTS',
    'SOURCE_NOT_FOUND',
    'TARGET_UNSUPPORTED',
    'TASK_EXISTS',
    'TLS_FAILED',
    'UNAUTHORIZED',
    'VALIDATION_PENDING_LIMIT',
  ]);
});

test('how an error is handled where it is met', () => {
  const cases: [string, unknown, ErrorSite, ErrorClass][] = [
    // Jobs: the codes runtime.ts paused on at once.
    ['config', dmq('CONFIG_INVALID'), 'job', 'operator'],
    ['source gone', dmq('SOURCE_NOT_FOUND'), 'job', 'operator'],
    ['no table to plan', dmq('PLAN_FAILED'), 'job', 'operator'],
    ['dump file lost', dmq('DUMP_FILE_MISSING'), 'job', 'operator'],
    ['dump file key changed', dmq('DUMP_KEY_INVALID'), 'job', 'operator'],
    ['login refused', dmq('ACCESS_DENIED'), 'job', 'operator'],
    ['copied row collides', dmq('LOAD_CONFLICT'), 'job', 'operator'],
    ['target refuses a batch', dmq('APPLY_REJECTED'), 'job', 'operator'],
    ['target refuses a DDL', dmq('DDL_REJECTED'), 'job', 'operator'],
    ['shards disagree', dmq('SHARD_DDL_CONFLICT'), 'job', 'operator'],
    // Jobs: retried until their attempts run out.
    ['apply failed', dmq('APPLY_FAILED'), 'job', 'retry'],
    ['load failed', dmq('LOAD_FAILED'), 'job', 'retry'],
    ['dump failed', dmq('DUMP_FAILED'), 'job', 'retry'],
    ['split failed', dmq('SPLIT_FAILED'), 'job', 'retry'],
    ['cannot connect', dmq('CONNECT_FAILED'), 'job', 'retry'],
    ['a bug', dmq('INTERNAL'), 'job', 'retry'],
    ['a raw server error', serverError(1062), 'job', 'retry'],
    ['a raw TiDB write conflict', serverError(9007), 'job', 'retry'],
    ['a purged binlog matters to the reader only', serverError(1236), 'job', 'retry'],
    ['a network error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 }), 'job', 'retry'],
    ['a thrown string', 'boom', 'job', 'retry'],
    ['nothing', undefined, 'job', 'retry'],
    // Jobs of a removed task end quietly.
    ['task removed', dmq('TASK_NOT_FOUND'), 'job', 'silent'],
    // The binlog reader: the codes tailer.ts paused on at once, and a purged position.
    ['reader: config', dmq('CONFIG_INVALID'), 'binlog-reader', 'operator'],
    ['reader: unreadable DDL', dmq('DDL_UNSUPPORTED'), 'binlog-reader', 'operator'],
    ['reader: filter says Error', dmq('EVENT_FILTERED'), 'binlog-reader', 'operator'],
    ['reader: purged position', serverError(1236), 'binlog-reader', 'operator'],
    // The binlog reader restarts from its checkpoint.
    ['reader: watchdog', dmq('BINLOG_FAILED'), 'binlog-reader', 'retry'],
    ['reader: a bug', dmq('INTERNAL'), 'binlog-reader', 'retry'],
    ['reader: task removed', dmq('TASK_NOT_FOUND'), 'binlog-reader', 'silent'],
    ['reader: another server error', serverError(1045), 'binlog-reader', 'retry'],
    [
      'reader: connection reset',
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 }),
      'binlog-reader',
      'retry',
    ],
  ];
  for (const [name, err, site, expected] of cases) {
    assert.equal(errorClass(err, site), expected, name);
    assert.equal(pausesTaskAtOnce(err, site), expected === 'operator', name);
  }
});
