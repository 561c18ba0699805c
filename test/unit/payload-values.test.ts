import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeRow,
  decodeValue,
  encodeRow,
  encodeValue,
  type EncodedValue,
  type RowValue,
} from '../../src/shared/binlog/payload-values.js';

/** What actually happens between binlog reader and applier: JSON text in Redis. */
const throughJson = (v: EncodedValue): EncodedValue => JSON.parse(JSON.stringify(v)) as EncodedValue;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('encodeValue / decodeValue', () => {
  // [name, value, its encoded form]
  const cases: [string, RowValue, EncodedValue][] = [
    ['null', null, null],
    ['zero', 0, 0],
    ['negative integer', -42, -42],
    ['largest safe integer', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['double', 3.25, 3.25],
    ['tiny double', 1.5e-300, 1.5e-300],
    ['empty string', '', ''],
    ['plain string', 'hello', 'hello'],
    ['unicode string', '日本語 😀 \u0000 \n', '日本語 😀 \u0000 \n'],
    ['decimal as exact string', '12345678901234567890.000000001', '12345678901234567890.000000001'],
    ['string that looks like an $int tag', '{"$int":"5"}', '{"$int":"5"}'],
    ['string that looks like a $bytes tag', '{"$bytes":"AAE="}', '{"$bytes":"AAE="}'],
    ['string "$int"', '$int', '$int'],
    ['bigint 2^53 + 1', 2n ** 53n + 1n, { $int: '9007199254740993' }],
    ['bigint max unsigned 64-bit', 2n ** 64n - 1n, { $int: '18446744073709551615' }],
    ['bigint min signed 64-bit', -(2n ** 63n), { $int: '-9223372036854775808' }],
    ['bigint zero', 0n, { $int: '0' }],
    ['empty buffer', Buffer.alloc(0), { $bytes: '' }],
    ['buffer with every byte value', ALL_BYTES, { $bytes: ALL_BYTES.toString('base64') }],
    ['buffer holding UTF-8 of a tag', Buffer.from('{"$int":"1"}'), { $bytes: Buffer.from('{"$int":"1"}').toString('base64') }],
  ];
  for (const [name, value, encoded] of cases) {
    test(name, () => {
      assert.deepEqual(encodeValue(value), encoded);
      const back = decodeValue(throughJson(encodeValue(value)));
      assert.deepEqual(back, value);
      assert.equal(typeof back, typeof value);
      assert.equal(Buffer.isBuffer(back), Buffer.isBuffer(value));
    });
  }

  test('bigint beyond 2^53 keeps every digit (a number would not)', () => {
    const big = 2n ** 53n + 1n;
    const back = decodeValue(throughJson(encodeValue(big)));
    assert.equal(back, big);
    assert.notEqual(Number(big).toString(), big.toString());
  });

  test('every byte value survives, in order', () => {
    const back = decodeValue(throughJson(encodeValue(ALL_BYTES)));
    assert.ok(Buffer.isBuffer(back));
    assert.equal(back.length, 256);
    for (let i = 0; i < 256; i++) assert.equal(back[i], i, `byte ${i}`);
  });

  test('a string that looks like a tag stays a string after JSON', () => {
    for (const s of ['{"$int":"5"}', '{"$bytes":"AAE="}', '[object Object]']) {
      const back = decodeValue(throughJson(encodeValue(s)));
      assert.equal(back, s);
    }
  });
});

describe('encodeRow / decodeRow', () => {
  test('a mixed row round-trips through JSON in column order', () => {
    const row: RowValue[] = [1, null, 'x', 2n ** 63n, ALL_BYTES, -0.5, '{"$int":"7"}', Buffer.from([0])];
    const json = JSON.stringify(encodeRow(row));
    const back = decodeRow(JSON.parse(json) as EncodedValue[]);
    assert.deepEqual(back, row);
  });

  test('an empty row', () => {
    assert.deepEqual(encodeRow([]), []);
    assert.deepEqual(decodeRow([]), []);
  });
});
