import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareCoords, coordText, parseCoordText, type BinlogCoord } from '../../src/shared/binlog/position.js';

const c = (file: string, pos: number, part?: number): BinlogCoord => (part === undefined ? { file, pos } : { file, pos, part });

describe('compareCoords', () => {
  // [name, a, b, expected sign of compareCoords(a, b)]
  const cases: [string, BinlogCoord, BinlogCoord, -1 | 0 | 1][] = [
    ['next file orders after, 000009 < 000010', c('mysql-bin.000009', 4), c('mysql-bin.000010', 4), -1],
    ['a far position in the earlier file still orders first', c('mysql-bin.000009', 1_073_741_824), c('mysql-bin.000010', 4), -1],
    ['file numbers compare as numbers, not text (999999 < 1000000)', c('mysql-bin.999999', 4), c('mysql-bin.1000000', 4), -1],
    ['unpadded numbers compare as numbers (9 < 10)', c('bin.9', 500), c('bin.10', 4), -1],
    ['same file: position decides', c('mysql-bin.000010', 4), c('mysql-bin.000010', 120), -1],
    ['same file and position: no part orders before part 1', c('mysql-bin.000010', 120), c('mysql-bin.000010', 120, 1), -1],
    ['same file and position: part 1 < part 2', c('mysql-bin.000010', 120, 1), c('mysql-bin.000010', 120, 2), -1],
    ['part 0 equals no part', c('mysql-bin.000010', 120, 0), c('mysql-bin.000010', 120), 0],
    ['a later position beats a higher part', c('mysql-bin.000010', 120, 9), c('mysql-bin.000010', 121), -1],
    ['a later file beats a higher position and part', c('mysql-bin.000009', 9_999_999, 50), c('mysql-bin.000010', 4), -1],
    ['identical', c('mysql-bin.000010', 120, 3), c('mysql-bin.000010', 120, 3), 0],
    ['empty file name orders before the first real file', c('', 0), c('mysql-bin.000001', 4), -1],
    ['empty file name orders first even with a larger position', c('', 999_999), c('mysql-bin.000001', 4), -1],
    ['empty file name orders before file number 0', c('', 0), c('mysql-bin.000000', 4), -1],
    ['two empty file names: position decides', c('', 0), c('', 4), -1],
    ['two empty file names, same position: equal', c('', 0), c('', 0), 0],
  ];
  for (const [name, a, b, sign] of cases) {
    test(name, () => {
      assert.equal(Math.sign(compareCoords(a, b)), sign, `compareCoords(${coordText(a)}, ${coordText(b)})`);
      // Antisymmetric: swapping the arguments flips the sign.
      assert.equal(Math.sign(compareCoords(b, a)), sign === 0 ? 0 : -sign, `compareCoords(${coordText(b)}, ${coordText(a)})`);
    });
  }

  test('sorts a shuffled list into binlog order', () => {
    const ordered = [
      c('', 0),
      c('', 4),
      c('mysql-bin.000009', 4),
      c('mysql-bin.000009', 256),
      c('mysql-bin.000009', 256, 1),
      c('mysql-bin.000009', 256, 2),
      c('mysql-bin.000009', 7_000_000),
      c('mysql-bin.000010', 4),
      c('mysql-bin.000010', 300),
      c('mysql-bin.000011', 4),
      c('mysql-bin.999999', 4),
      c('mysql-bin.1000000', 4),
    ];
    const shuffled = [
      ordered[6]!,
      ordered[11]!,
      ordered[0]!,
      ordered[8]!,
      ordered[3]!,
      ordered[9]!,
      ordered[5]!,
      ordered[1]!,
      ordered[10]!,
      ordered[4]!,
      ordered[7]!,
      ordered[2]!,
    ];
    assert.deepEqual([...shuffled].sort(compareCoords).map(coordText), ordered.map(coordText));
  });
});

describe('coordText / parseCoordText', () => {
  // [name, coordinate, its text]
  const cases: [string, BinlogCoord, string][] = [
    ['file and position', c('mysql-bin.000010', 4), 'mysql-bin.000010:4'],
    ['with a part', c('mysql-bin.000010', 1234, 3), 'mysql-bin.000010:1234#3'],
    ['empty file name', c('', 0), ':0'],
    ['empty file name with a part', c('', 4, 2), ':4#2'],
    ['position beyond 32 bits', c('mysql-bin.000001', 4_294_967_300), 'mysql-bin.000001:4294967300'],
    ['a file name holding a colon', c('host:mysql-bin.000002', 77), 'host:mysql-bin.000002:77'],
    ['a file name holding a colon and digits', c('a:12', 77, 5), 'a:12:77#5'],
    ['a file name holding a hash', c('bin#1.000003', 9), 'bin#1.000003:9'],
    ['a path-like file name with unicode', c('/var/lib/mysql/bïn log.000004', 10), '/var/lib/mysql/bïn log.000004:10'],
  ];
  for (const [name, coord, text] of cases) {
    test(`${name}: ${JSON.stringify(text)}`, () => {
      assert.equal(coordText(coord), text);
      assert.deepEqual(parseCoordText(text), coord);
      assert.deepEqual(parseCoordText(coordText(coord)), coord);
      assert.equal(coordText(parseCoordText(text)), text);
    });
  }

  test('part 0 is written as no part and reads back equal', () => {
    const text = coordText(c('mysql-bin.000010', 120, 0));
    assert.equal(text, 'mysql-bin.000010:120');
    const back = parseCoordText(text);
    assert.equal(back.part, undefined);
    assert.equal(compareCoords(back, c('mysql-bin.000010', 120, 0)), 0);
  });

  test('an explicit #0 parses as part 0', () => {
    assert.deepEqual(parseCoordText('mysql-bin.000010:120#0'), c('mysql-bin.000010', 120, 0));
  });

  test('the text order of a parsed list agrees with the coordinates', () => {
    const texts = ['mysql-bin.000010:4', 'mysql-bin.000009:900#1', ':0', 'mysql-bin.000009:900'];
    assert.deepEqual(texts.map(parseCoordText).sort(compareCoords).map(coordText), [
      ':0',
      'mysql-bin.000009:900',
      'mysql-bin.000009:900#1',
      'mysql-bin.000010:4',
    ]);
  });
});

describe('parseCoordText errors', () => {
  const bad = [
    '',
    'mysql-bin.000010',
    'mysql-bin.000010:',
    ':',
    'mysql-bin.000010:abc',
    'mysql-bin.000010:4#',
    'mysql-bin.000010:4#x',
    'mysql-bin.000010:4#-1',
    'mysql-bin.000010:-4',
    'mysql-bin.000010:4.5',
    'mysql-bin.000010:4 ',
    'mysql-bin.000010:4#1#2',
    'mysql-bin.000010:0x10',
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseCoordText(text),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(err.message, `not a binlog coordinate: ${JSON.stringify(text)}`);
          return true;
        },
      );
    });
  }
});
