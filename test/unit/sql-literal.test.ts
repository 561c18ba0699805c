import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hexLiteral, literalEncoder, quoteString, rowEncoder, selectExpression } from '../../src/processors/dump/sql-literal.js';
import { columnInfo as col } from '../support/column-info.js';
import type { ColumnInfo } from '../../src/shared/sql/catalog.js';

/**
 * How MySQL/MariaDB read a single-quoted string when NO_BACKSLASH_ESCAPES is off (the load
 * session's sql_mode), restricted to what a correct encoder may emit: the six escapes it uses,
 * no raw quote inside. Throws on anything else, so an encoder that emits a bare `'` or an
 * unknown escape fails the round-trip instead of passing by accident.
 */
function readMysqlString(literal: string): string {
  assert.ok(literal.length >= 2 && literal.startsWith("'") && literal.endsWith("'"), `quoted: ${literal}`);
  const escapes: Record<string, string> = { '0': '\0', n: '\n', r: '\r', Z: '\x1a', "'": "'", '\\': '\\' };
  let out = '';
  for (let i = 1; i < literal.length - 1; i++) {
    const c = literal[i]!;
    if (c === "'") throw new Error(`bare quote at ${i} in ${literal}`);
    if (c === '\\') {
      const e = literal[++i];
      if (e === undefined || i >= literal.length - 1) throw new Error(`dangling backslash in ${literal}`);
      const v = escapes[e];
      if (v === undefined) throw new Error(`unexpected escape \\${e} in ${literal}`);
      out += v;
    } else {
      out += c;
    }
  }
  return out;
}

describe('quoteString', () => {
  const cases: [string, string, string][] = [
    ['empty', '', "''"],
    ['plain', 'abc', "'abc'"],
    ['NUL', '\0', "'\\0'"],
    ['newline', '\n', "'\\n'"],
    ['carriage return', '\r', "'\\r'"],
    ['Ctrl-Z (0x1a)', '\x1a', "'\\Z'"],
    ['single quote', "'", "'\\''"],
    ['backslash', '\\', "'\\\\'"],
    ['all six together', "a\0b\nc\rd\x1ae'f\\g", "'a\\0b\\nc\\rd\\Ze\\'f\\\\g'"],
    ['escape-looking text is escaped, not interpreted', '\\n\\0', "'\\\\n\\\\0'"],
    ['a quote at both ends', "'x'", "'\\'x\\''"],
    ['CRLF', 'a\r\nb', "'a\\r\\nb'"],
    ['tab, double quote, backtick, %, _ are left alone', '\t"`%_', "'\t\"`%_'"],
    ['other control bytes are left alone', '\x01\x1b\x7f', "'\x01\x1b\x7f'"],
    ['CJK untouched', '日本語のテキスト', "'日本語のテキスト'"],
    ['emoji and ZWJ sequence untouched', '😀👩‍👩‍👧', "'😀👩‍👩‍👧'"],
    ['combining marks and RTL untouched', 'e\u0301 \u202e\u05d0', "'e\u0301 \u202e\u05d0'"],
    ['U+2028/U+2029 (line separators, not 0x0a) untouched', '\u2028\u2029', "'\u2028\u2029'"],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      const got = quoteString(input);
      assert.equal(got, want);
      assert.equal(readMysqlString(got), input, 'reads back to the same text');
      assert.ok(!got.includes('\n') && !got.includes('\r'), 'no raw line break in a chunk-file value');
    });
  }

  test('random strings over the special characters round-trip and never contain a raw newline', () => {
    const alphabet = ['\0', '\n', '\r', '\x1a', "'", '\\', 'a', ' ', '"', '日', '😀', '\t', '\u0085'];
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (let n = 0; n < 2000; n++) {
      let s = '';
      const len = Math.floor(rnd() * 12);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const q = quoteString(s);
      assert.ok(!q.includes('\n'), JSON.stringify(q));
      assert.ok(!q.includes('\r'), JSON.stringify(q));
      assert.ok(!q.includes('\0'), JSON.stringify(q));
      assert.equal(readMysqlString(q), s, JSON.stringify(s));
    }
  });
});

describe('hexLiteral', () => {
  const cases: [string, number[], string][] = [
    ['empty', [], "X''"],
    ['one zero byte', [0], "X'00'"],
    ['lower-case digits, two per byte', [0x00, 0xff, 0x10, 0xab], "X'00ff10ab'"],
    ['bytes that are special in strings', [0x27, 0x5c, 0x0a, 0x0d, 0x1a], "X'275c0a0d1a'"],
  ];
  for (const [name, bytes, want] of cases) test(name, () => assert.equal(hexLiteral(Buffer.from(bytes)), want));

  test('all 256 byte values round-trip', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const lit = hexLiteral(all);
    assert.match(lit, /^X'[0-9a-f]{512}'$/);
    assert.deepEqual(Buffer.from(lit.slice(2, -1), 'hex'), all);
  });
});

describe('literalEncoder', () => {
  const numeric = [
    'tinyint',
    'smallint',
    'mediumint',
    'int',
    'integer',
    'bigint',
    'decimal',
    'numeric',
    'float',
    'double',
    'real',
    'year',
    'bit',
  ];
  const binary = [
    'binary',
    'varbinary',
    'tinyblob',
    'blob',
    'mediumblob',
    'longblob',
    'geometry',
    'point',
    'linestring',
    'polygon',
    'multipoint',
    'multilinestring',
    'multipolygon',
    'geometrycollection',
    'geomcollection',
  ];
  const text = [
    'char',
    'varchar',
    'tinytext',
    'text',
    'mediumtext',
    'longtext',
    'enum',
    'set',
    'json',
    'date',
    'datetime',
    'timestamp',
    'time',
  ];

  for (const t of numeric) {
    test(`${t}: the server's ASCII text, unquoted; NULL`, () => {
      const enc = literalEncoder(col('c', t));
      for (const v of [
        '0',
        '-1',
        '18446744073709551615',
        '-9223372036854775808',
        '3.14159265358979',
        '1e-7',
        '-1.5E+300',
        '0.00000000000000000001',
        '2024',
      ]) {
        assert.equal(enc(Buffer.from(v, 'latin1')), v);
      }
      assert.equal(enc(null), 'NULL');
    });
  }
  for (const t of binary) {
    test(`${t}: hex, so every byte survives; NULL`, () => {
      const enc = literalEncoder(col('c', t));
      assert.equal(enc(Buffer.from([0x00, 0x27, 0x0a, 0x5c, 0xff])), "X'00270a5cff'");
      assert.equal(enc(Buffer.alloc(0)), "X''");
      assert.equal(enc(Buffer.from('NULL')), "X'4e554c4c'", 'the text NULL is a value, not NULL');
      assert.equal(enc(null), 'NULL');
    });
  }
  for (const t of text) {
    test(`${t}: UTF-8 text, quoted and escaped; NULL`, () => {
      const enc = literalEncoder(col('c', t));
      assert.equal(enc(Buffer.from("O'Reilly\n日本😀", 'utf8')), "'O\\'Reilly\\n日本😀'");
      assert.equal(enc(Buffer.from('')), "''");
      assert.equal(enc(Buffer.from('NULL')), "'NULL'", 'the text NULL is a value, not NULL');
      assert.equal(enc(Buffer.from('0000-00-00 00:00:00')), "'0000-00-00 00:00:00'");
      assert.equal(enc(null), 'NULL');
    });
  }
  test('unknown types are treated as text', () => {
    assert.equal(literalEncoder(col('c', 'inet6'))(Buffer.from('::1')), "'::1'");
  });
});

describe('rowEncoder', () => {
  const columns = [col('id', 'bigint'), col('name', 'varchar'), col('data', 'blob'), col('f', 'float'), col('b', 'bit'), col('j', 'json')];
  const cases: { name: string; row: (Buffer | null)[]; line: string }[] = [
    {
      name: 'one of each kind',
      row: [
        Buffer.from('1'),
        Buffer.from("a'b"),
        Buffer.from([0, 255]),
        Buffer.from('0.10000000149011612'),
        Buffer.from('5'),
        Buffer.from('{"k": "v\\n"}'),
      ],
      line: "(1,'a\\'b',X'00ff',0.10000000149011612,5,'{\"k\": \"v\\\\n\"}')\n",
    },
    {
      name: 'all NULL',
      row: [null, null, null, null, null, null],
      line: '(NULL,NULL,NULL,NULL,NULL,NULL)\n',
    },
    {
      name: 'commas, parentheses and newlines inside values stay inside their literal',
      row: [Buffer.from('-7'), Buffer.from('),(\n'), Buffer.from([0x0a]), Buffer.from('1e10'), Buffer.from('0'), Buffer.from('[]')],
      line: "(-7,'),(\\n',X'0a',1e10,0,'[]')\n",
    },
    {
      name: 'a short row pads with NULL',
      row: [Buffer.from('2')],
      line: '(2,NULL,NULL,NULL,NULL,NULL)\n',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const line = rowEncoder(columns)(c.row);
      assert.equal(line, c.line);
      assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one newline, at the end');
    });
  }
  test('one column', () => {
    assert.equal(rowEncoder([col('t', 'text')])([Buffer.from('x')]), "('x')\n");
  });
});

describe('selectExpression', () => {
  const cases: [string, ColumnInfo, string][] = [
    ['bit as its integer', col('flags', 'bit', 'bit(8)'), '`flags` + 0'],
    ['float widened to double', col('f', 'float', 'float'), '`f` + 0E0'],
    ['double as is', col('d', 'double'), '`d`'],
    ['decimal as is', col('d', 'decimal', 'decimal(10,2)'), '`d`'],
    ['text as is', col('t', 'varchar', 'varchar(10)'), '`t`'],
    ['blob as is', col('b', 'blob'), '`b`'],
    ['odd name, bit', col('we`ird', 'bit'), '`we``ird` + 0'],
    ['odd name, float', col('a b.c', 'float'), '`a b.c` + 0E0'],
    ['CJK name', col('列', 'int'), '`列`'],
    ['only a backtick', col('`', 'int'), '````'],
    ['looks like SQL', col('x` FROM t; --', 'float'), '`x`` FROM t; --` + 0E0'],
  ];
  for (const [name, column, want] of cases) test(name, () => assert.equal(selectExpression(column), want));
});
