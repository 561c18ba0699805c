import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixNegativeTime, normalizeValue, rowValues } from '../../src/producers/binlog/zongji-row.js';

// MySQL protocol column type codes.
const T = {
  TINY: 1,
  LONG: 3,
  DOUBLE: 5,
  LONGLONG: 8,
  TIME: 11,
  YEAR: 13,
  VARCHAR: 15,
  BIT: 16,
  TIME2: 19,
  JSON: 245,
  BLOB: 252,
  STRING: 254,
};

describe('fixNegativeTime', () => {
  // zongji 0.9 decodes a negative TIME whose seconds are zero as (value - 1s) with the seconds
  // field shown as 64: -01:00:00 → -00:63:64, -12:34:00 → -12:33:64, -00:01:00 → -00:00:64.
  const broken: [string, string][] = [
    ['-00:63:64', '-01:00:00'],
    ['-12:33:64', '-12:34:00'],
    ['-00:00:64', '-00:01:00'],
    ['-00:00:64.000000', '-00:01:00.000000'],
    ['-00:63:64.000', '-01:00:00.000'],
    ['-837:63:64', '-838:00:00'],
    ['-837:63:64.000000', '-838:00:00.000000'],
    ['-01:58:64', '-01:59:00'],
    ['-09:63:64', '-10:00:00'],
    ['-99:63:64', '-100:00:00'],
  ];
  for (const [input, expected] of broken) {
    test(`repairs ${input} → ${expected}`, () => {
      assert.equal(fixNegativeTime(input), expected);
    });
  }

  const correct = [
    '-838:59:59.000000',
    '-838:59:59',
    '-00:00:00.500',
    '-00:00:00.000001',
    '-00:00:01',
    '-00:59:59',
    '-01:00:01',
    '-12:34:56',
    '-100:00:00',
    '00:00:00',
    '00:63:64', // not negative: not the bug's shape, left alone
    '12:34:00',
    '838:59:59.000000',
    '01:00:00.500000',
    '',
    'not a time',
    '-1:00:00x',
  ];
  for (const input of correct) {
    test(`leaves ${JSON.stringify(input)} untouched`, () => {
      assert.equal(fixNegativeTime(input), input);
    });
  }
});

describe('normalizeValue', () => {
  const big = Buffer.from([0, 1, 254, 255]);
  // [name, value, column type, expected]
  const cases: [string, unknown, number, unknown][] = [
    ['YEAR 1900 is YEAR 0000', 1900, T.YEAR, 0],
    ['YEAR 1901 unchanged', 1901, T.YEAR, 1901],
    ['YEAR 2155 unchanged', 2155, T.YEAR, 2155],
    ['1900 in an INT column unchanged', 1900, T.LONG, 1900],
    ['1900 in a LONGLONG column unchanged', 1900, T.LONGLONG, 1900],
    ['null', null, T.LONG, null],
    ['undefined → null', undefined, T.LONG, null],
    ['null YEAR', null, T.YEAR, null],
    ['true → 1', true, T.TINY, 1],
    ['false → 0', false, T.TINY, 0],
    ['object → JSON text', { a: 1, b: [true, null, 'x'] }, T.JSON, '{"a":1,"b":[true,null,"x"]}'],
    ['array → JSON text', [1, 'two', { three: 3 }], T.JSON, '[1,"two",{"three":3}]'],
    ['empty object → JSON text', {}, T.JSON, '{}'],
    ['JSON text string stays as is', '{"a":1}', T.JSON, '{"a":1}'],
    ['Buffer unchanged', big, T.BLOB, big],
    ['BIT Buffer unchanged', Buffer.from([0b1010]), T.BIT, Buffer.from([0b1010])],
    ['string unchanged', 'héllo', T.VARCHAR, 'héllo'],
    ['BIGINT beyond 2^53 as string unchanged', '18446744073709551615', T.LONGLONG, '18446744073709551615'],
    ['number unchanged', 42, T.LONG, 42],
    ['double unchanged', -1.5e10, T.DOUBLE, -1.5e10],
    ['bigint unchanged', 2n ** 60n, T.LONGLONG, 2n ** 60n],
    ['broken negative TIME repaired', '-00:63:64', T.TIME, '-01:00:00'],
    ['broken negative TIME2 repaired', '-12:33:64.000000', T.TIME2, '-12:34:00.000000'],
    ['correct negative TIME2 unchanged', '-838:59:59.000000', T.TIME2, '-838:59:59.000000'],
    ['positive TIME2 unchanged', '12:00:00', T.TIME2, '12:00:00'],
    ['TIME-shaped text in a VARCHAR untouched', '-00:63:64', T.VARCHAR, '-00:63:64'],
    ['TIME-shaped text in a CHAR untouched', '-12:33:64', T.STRING, '-12:33:64'],
  ];
  for (const [name, value, type, expected] of cases) {
    test(name, () => {
      const out = normalizeValue(value, type);
      assert.deepEqual(out, expected);
      assert.equal(typeof out, typeof expected);
      if (Buffer.isBuffer(value)) assert.equal(out, value, 'the same Buffer, not a copy');
    });
  }
});

describe('rowValues', () => {
  const columns = ['id', 'y', 't', 'name', 'doc', 'flag'];
  const types = [T.LONGLONG, T.YEAR, T.TIME2, T.VARCHAR, T.JSON, T.TINY];

  test('values come out in column-list order, not object-key order', () => {
    const row = { flag: true, doc: { k: 'v' }, name: 'x', t: '-00:63:64', y: 1900, id: '9007199254740993' };
    assert.deepEqual(rowValues(row, columns, types), ['9007199254740993', 0, '-01:00:00', 'x', '{"k":"v"}', 1]);
  });

  test('the type of each value is taken from the same position', () => {
    // 1900 in column 0 (LONGLONG) stays, in column 1 (YEAR) becomes 0.
    const row = { id: 1900, y: 1900, t: '10:00:00', name: '-00:63:64', doc: null, flag: false };
    assert.deepEqual(rowValues(row, columns, types), [1900, 0, '10:00:00', '-00:63:64', null, 0]);
  });

  test('a column the row object lacks is null; extra keys are ignored', () => {
    const row = { id: 1, extra: 'ignored' };
    assert.deepEqual(rowValues(row, columns, types), [1, null, null, null, null, null]);
  });

  test('reordering the column list reorders the values', () => {
    const row = { a: 1, b: 'two', c: null };
    assert.deepEqual(rowValues(row, ['c', 'b', 'a'], [T.LONG, T.VARCHAR, T.LONG]), [null, 'two', 1]);
    assert.deepEqual(rowValues(row, ['a', 'b', 'c'], [T.LONG, T.VARCHAR, T.LONG]), [1, 'two', null]);
  });

  test('missing types default to no correction', () => {
    assert.deepEqual(rowValues({ y: 1900, t: '-00:63:64' }, ['y', 't'], []), [1900, '-00:63:64']);
  });

  test('no columns → empty row', () => {
    assert.deepEqual(rowValues({ a: 1 }, [], []), []);
  });

  // zongji drops a column named `__proto__` from its row objects (docs/replication-design.md).
  // Reading row['__proto__'] on a plain object then yields Object.prototype, which
  // normalizeValue turns into the text '{}': a made-up value written silently to the target.
  // It should at least read like any other absent column, not invent '{}'.
  test('a column named __proto__ missing from the row object is not invented as "{}"', () => {
    const row: Record<string, unknown> = { id: 1 };
    const out = rowValues(row, ['id', '__proto__'], [T.LONG, T.VARCHAR]);
    assert.deepEqual(out, [1, null]);
  });
});
