import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { describe, test } from 'node:test';
import { decodeKeyTuple, encodeKeyTuple, type KeyValue } from '../../src/shared/chunk/chunk.js';
import { chunkFileKey, taskPrefix } from '../../src/shared/store/dump-store.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('encodeKeyTuple / decodeKeyTuple', () => {
  const cases: { name: string; tuple: KeyValue[] }[] = [
    { name: 'empty tuple', tuple: [] },
    { name: 'plain string', tuple: ['abc'] },
    { name: 'empty string', tuple: [''] },
    { name: 'strings with JSON specials', tuple: ['"', '\\', '\n\r\t', '\0', '\u2028\u2029', '</script>'] },
    { name: 'unicode strings', tuple: ['日本語', '😀👩‍👩‍👧', 'e\u0301'] },
    { name: 'strings that look like the encoding of other types', tuple: ['{"int":"5"}', '{"b64":"AA=="}', 'null', '5'] },
    { name: 'small BigInts', tuple: [0n, 1n, -1n] },
    { name: 'BigInt just past 2^53', tuple: [2n ** 53n + 1n, -(2n ** 53n) - 1n] },
    { name: 'BigInt extremes of BIGINT SIGNED / UNSIGNED', tuple: [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 64n - 1n] },
    { name: 'BigInt beyond 64 bits', tuple: [2n ** 200n + 12345n] },
    { name: 'Buffer with all 256 byte values', tuple: [ALL_BYTES] },
    { name: 'empty Buffer', tuple: [Buffer.alloc(0)] },
    { name: 'Buffer that is not valid UTF-8', tuple: [Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80])] },
    { name: 'null element', tuple: [null] },
    { name: 'mixed, with nulls in between', tuple: [null, 'a', 2n ** 60n, Buffer.from([0, 10, 255]), null] },
  ];
  for (const { name, tuple } of cases) {
    test(name, () => {
      const text = encodeKeyTuple(tuple);
      assert.equal(typeof text, 'string');
      assert.doesNotThrow(() => JSON.parse(text!), 'valid JSON (stored in the meta tables)');
      const back = decodeKeyTuple(text);
      assert.ok(back !== null);
      assert.equal(back.length, tuple.length);
      for (let i = 0; i < tuple.length; i++) {
        const want: KeyValue = tuple[i]!;
        const got: KeyValue = back[i]!;
        if (Buffer.isBuffer(want)) {
          assert.ok(Buffer.isBuffer(got), `element ${i} is a Buffer again`);
          assert.ok(want.equals(got), `element ${i} has the same bytes`);
        } else {
          assert.equal(typeof got, want === null ? 'object' : typeof want, `element ${i} keeps its type`);
          assert.equal(got, want);
        }
      }
      assert.deepEqual(back, tuple);
      assert.equal(encodeKeyTuple(back), text, 'encoding is stable');
    });
  }

  test('null tuple (unbounded side) stays null', () => {
    assert.equal(encodeKeyTuple(null), null);
    assert.equal(decodeKeyTuple(null), null);
  });

  test('a BigInt and its decimal string stay different values', () => {
    const a = decodeKeyTuple(encodeKeyTuple([5n]))!;
    const b = decodeKeyTuple(encodeKeyTuple(['5']))!;
    assert.equal(a[0], 5n);
    assert.equal(b[0], '5');
  });
});

describe('chunkFileKey', () => {
  const ODD = [
    '/',
    '..',
    '.',
    '...',
    ' ',
    'a b',
    '日本語',
    '表',
    '*',
    '**',
    'a/b',
    '../etc',
    '..\\..\\x',
    '%',
    '%2F',
    '%2E%2E',
    'a.b',
    'a%2Eb',
    '?',
    '#',
    ':',
    'C:',
    '~',
    "'",
    '(',
    ')',
    '!',
    '"',
    '<>|',
    '\t',
    'plain',
    'UPPER',
    'upper',
  ];
  const base = { task: 'task-1', sourceId: 'mysql-01', index: 3, attempt: '0a1b2c3d' };
  const keys = (names: string[]) => {
    const out: { schema: string; table: string; key: string }[] = [];
    for (const schema of names) for (const table of names) out.push({ schema, table, key: chunkFileKey({ ...base, schema, table }) });
    return out;
  };

  test('an ordinary key', () => {
    assert.equal(
      chunkFileKey({ ...base, schema: 'test_db', table: 'test_table' }),
      'task-1/mysql-01/test_db.test_table/000003-0a1b2c3d.sql',
    );
  });

  test('odd names never leave the task directory and never add a path level', () => {
    for (const { schema, table, key } of keys(ODD)) {
      const where = `(${JSON.stringify(schema)}, ${JSON.stringify(table)}) -> ${key}`;
      const segments = key.split('/');
      assert.equal(segments.length, 4, `four segments ${where}`);
      for (const s of segments) {
        assert.ok(s !== '' && s !== '.' && s !== '..', `no empty, . or .. segment ${where}`);
        assert.ok(!/[\\\0:*?"<>|\t]/.test(s), `no separator or reserved character in a segment ${where}`);
      }
      assert.equal(posix.normalize(key), key, `already normal ${where}`);
      assert.ok(posix.join('/dump', key).startsWith('/dump/task-1/mysql-01/'), `stays under the task and source ${where}`);
      assert.ok(key.startsWith(taskPrefix(base.task)), `removePrefix(taskPrefix(task)) covers it ${where}`);
    }
  });

  test('different (schema, table) pairs get different keys', () => {
    const all = keys(ODD);
    const seen = new Map<string, string>();
    for (const { schema, table, key } of all) {
      const pair = JSON.stringify([schema, table]);
      const other = seen.get(key);
      assert.equal(other, undefined, `${pair} and ${other} share ${key}`);
      seen.set(key, pair);
    }
    const pairs: [[string, string], [string, string]][] = [
      [
        ['a.b', 'c'],
        ['a', 'b.c'],
      ],
      [
        ['a.', 'b'],
        ['a', '.b'],
      ],
      [
        ['a%2Eb', 'c'],
        ['a.b', 'c'],
      ],
      [
        ['a/b', 'c'],
        ['a', 'b/c'],
      ],
      [
        ['UPPER', 't'],
        ['upper', 't'],
      ],
    ];
    for (const [[s1, t1], [s2, t2]] of pairs) {
      assert.notEqual(
        chunkFileKey({ ...base, schema: s1, table: t1 }),
        chunkFileKey({ ...base, schema: s2, table: t2 }),
        `${s1}.${t1} vs ${s2}.${t2}`,
      );
    }
  });

  test('odd task and source ids are confined the same way', () => {
    for (const task of ['..', '.', '/', 'a/..']) {
      for (const sourceId of ['..', '.', '/', '*']) {
        const key = chunkFileKey({ ...base, task, sourceId, schema: 's', table: 't' });
        const segments = key.split('/');
        assert.equal(segments.length, 4, key);
        for (const s of segments) assert.ok(s !== '' && s !== '.' && s !== '..', key);
        assert.ok(!posix.normalize(key).startsWith('..'), key);
      }
    }
  });

  test('index and attempt name the file; the index sorts as text', () => {
    const k = (index: number, attempt: string) => chunkFileKey({ ...base, schema: 's', table: 't', index, attempt });
    assert.equal(k(0, 'ff').split('/')[3], '000000-ff.sql');
    assert.equal(k(123456, 'ff').split('/')[3], '123456-ff.sql');
    assert.notEqual(k(1, 'aa'), k(1, 'bb'), 'a new attempt is a new key');
    assert.ok(k(9, 'x') < k(10, 'x'));
  });

  // File systems cap a name at 255 bytes and S3 a key at 1024; percent-encoding turns one CJK
  // character into 9 bytes, and MySQL allows 64-character schema and table names.
  test('segments fit a file name (255 bytes) and keys fit S3 (1024 bytes) for 64-character names', () => {
    const names = ['表'.repeat(64), 'x'.repeat(64), '.'.repeat(64), '数据库', '二零二三年度华东区域门店每日销售明细汇总表与退货记录'];
    for (const schema of names) {
      for (const table of names) {
        const key = chunkFileKey({
          ...base,
          task: 't'.repeat(64),
          sourceId: 's'.repeat(64),
          schema,
          table,
          index: 999999,
          attempt: 'ffffffff',
        });
        for (const s of key.split('/'))
          assert.ok(Buffer.byteLength(s) <= 255, `segment of ${Buffer.byteLength(s)} bytes for ${schema}.${table}`);
        assert.ok(Buffer.byteLength(key) <= 1024, `key of ${Buffer.byteLength(key)} bytes`);
      }
    }
  });
});
