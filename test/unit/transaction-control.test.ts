import assert from 'node:assert/strict';
import { test } from 'node:test';
import { transactionControl } from '../../src/producers/binlog/transaction-control.js';

test('transaction control statements in the binlog, and the statements that are not', () => {
  const cases: [string, ReturnType<typeof transactionControl>][] = [
    ['BEGIN', 'begin'],
    ['START TRANSACTION', 'begin'],
    ['COMMIT', 'end'],
    ['ROLLBACK', 'end'],
    ['SAVEPOINT `sp1`', 'savepoint'],
    ['ROLLBACK TO `sp1`', 'savepoint'],
    ['RELEASE SAVEPOINT `sp1`', 'savepoint'],
    ["XA START X'31',X'',1", 'begin'],
    ["XA END X'31',X'',1", 'savepoint'],
    ["XA PREPARE X'31',X'',1", 'end'],
    ["XA COMMIT X'31',X'',1", 'end'],
    ["XA ROLLBACK X'31',X'',1", 'end'],
    ['ALTER TABLE t ADD c INT', undefined],
    ['begin', 'begin'],
    ['COMMIT /* implicit */', 'end'],
    ['ROLLBACKUP', undefined],
  ];
  for (const [sql, expected] of cases) assert.equal(transactionControl(sql), expected, sql);
});
