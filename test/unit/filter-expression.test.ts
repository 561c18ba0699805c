import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventFilterRule, ExpressionFilter, InstanceConfig, SourceConfig, TaskConfig } from '../../src/shared/config/types.js';
import { makeEventFilter } from '../../src/shared/filter/binlog-event.js';
import {
  allExpressions,
  deleteExpressions,
  expressionFiltersOf,
  insertExpressions,
  matchSql,
  mentionedColumns,
  updateExpressions,
} from '../../src/shared/filter/expression.js';
import { instanceEventRules } from '../../src/shared/filter/source-filters.js';

const filters: ExpressionFilter[] = [
  { name: 'even', schema: 'db', table: 't', insertValueExpr: 'c % 2 = 0' },
  { name: 'old-only', schema: 'db', table: 't', updateOldValueExpr: 'c > 100' },
  { name: 'both', schema: 'db', table: 't', updateOldValueExpr: 'c = 1', updateNewValueExpr: 'c = 2' },
  { name: 'gone', schema: 'db', table: 't', deleteValueExpr: "`note` = 'keep'" },
  { name: 'other', schema: 'db', table: 'T', insertValueExpr: '1 = 1' },
];

describe('expression filters of a table', () => {
  test('only the filters naming the table exactly, as DM compares names', () => {
    assert.deepEqual(
      expressionFiltersOf(filters, 'db', 't').map((f) => f.name),
      ['even', 'old-only', 'both', 'gone'],
    );
    assert.deepEqual(
      expressionFiltersOf(filters, 'db', 'T').map((f) => f.name),
      ['other'],
    );
    assert.deepEqual(expressionFiltersOf(filters, 'DB', 't'), []);
  });

  test('expressions by kind; an update filter lacking a side has none for it (it counts as true)', () => {
    const mine = expressionFiltersOf(filters, 'db', 't');
    assert.deepEqual(
      insertExpressions(mine).map((e) => e.sql),
      ['c % 2 = 0'],
    );
    assert.deepEqual(updateExpressions(mine), [
      { old: { filter: 'old-only', field: 'update-old-value-expr', sql: 'c > 100' } },
      {
        old: { filter: 'both', field: 'update-old-value-expr', sql: 'c = 1' },
        new: { filter: 'both', field: 'update-new-value-expr', sql: 'c = 2' },
      },
    ]);
    assert.deepEqual(
      deleteExpressions(mine).map((e) => e.filter),
      ['gone'],
    );
    assert.equal(allExpressions(mine).length, 5);
  });

  test('a match is exactly 1, never NULL, and a trailing line comment cannot swallow the wrapper', () => {
    assert.equal(matchSql('c > 1 -- big'), '((\nc > 1 -- big\n) <=> 1)');
  });

  test('the columns an expression may name: every column whose name occurs in it, ignoring case', () => {
    // `id` occurs only inside the path string: a superset is all that is needed.
    assert.deepEqual(mentionedColumns(['C_INT >= 25', "c_json->'$.id' = 2"], ['id', 'c_int', 'c_json', 'c_text', 'c']), [
      'id',
      'c_int',
      'c_json',
      'c',
    ]);
    assert.deepEqual(mentionedColumns(['1 = 0'], ['a', 'b']), []);
    assert.deepEqual(mentionedColumns(['`my col` = 1'], ['my col', 'col2']), ['my col']);
  });
});

const rule = (name: string, schemaPattern: string, tablePattern: string | undefined, events: string[]): EventFilterRule => ({
  name,
  schemaPattern,
  ...(tablePattern === undefined ? {} : { tablePattern }),
  events,
  sqlPattern: [],
  action: 'Ignore',
});

function rulesOf(taskRules: EventFilterRule[], sourceRules: EventFilterRule[], taskCase = false, sourceCase = false) {
  const task = { caseSensitive: taskCase } as TaskConfig;
  const instance = { filters: taskRules } as InstanceConfig;
  const source = { filters: sourceRules, ...(sourceCase ? { caseSensitive: true } : {}) } as SourceConfig;
  return instanceEventRules(task, instance, source);
}

describe('source-level binlog event filters with the task rules (DM copyConfigFromSource)', () => {
  test('the source rules follow the task rules and act with them', () => {
    const { rules, caseSensitive } = rulesOf([rule('task', 'shop', 'orders', ['delete'])], [rule('src', 'shop', 'logs', ['drop table'])]);
    assert.deepEqual(
      rules.map((r) => r.name),
      ['task', 'src'],
    );
    assert.equal(caseSensitive, false);
    const filter = makeEventFilter(rules, caseSensitive);
    assert.equal(filter({ schema: 'shop', table: 'logs', event: 'drop table' }).action, 'Ignore');
    assert.equal(filter({ schema: 'shop', table: 'orders', event: 'delete' }).action, 'Ignore');
    assert.equal(filter({ schema: 'shop', table: 'logs', event: 'delete' }).action, 'Do');
  });

  test('a task rule with the same schema and table patterns wins over the source rule', () => {
    const { rules } = rulesOf(
      [rule('task', 'Shop', 'orders', ['insert'])],
      [
        rule('src', 'shop', 'ORDERS', ['delete']),
        rule('src2', 'shop', undefined, ['drop database']),
        rule('src3', 'shop', '', ['truncate table']),
      ],
    );
    // Without a table-pattern and with an empty one, DM's selector holds one rule.
    assert.deepEqual(
      rules.map((r) => r.name),
      ['task', 'src2'],
    );
  });

  test('patterns differing only in case are different rules when either side is case-sensitive', () => {
    const fromSource = rulesOf([rule('task', 'Shop', 'orders', ['insert'])], [rule('src', 'shop', 'orders', ['delete'])], false, true);
    assert.deepEqual(
      fromSource.rules.map((r) => r.name),
      ['task', 'src'],
    );
    assert.equal(fromSource.caseSensitive, true);
    const fromTask = rulesOf([rule('task', 'Shop', 'orders', ['insert'])], [rule('src', 'shop', 'orders', ['delete'])], true, false);
    assert.equal(fromTask.caseSensitive, true);
    assert.equal(fromTask.rules.length, 2);
  });

  test('a source without filters leaves the task rules as they are', () => {
    const task = [rule('task', 'a', undefined, ['all dml'])];
    const { rules } = instanceEventRules({ caseSensitive: false } as TaskConfig, { filters: task } as InstanceConfig, {} as SourceConfig);
    assert.deepEqual(rules, task);
  });
});
