import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { filterLiteral } from '../../src/processors/apply/filter-literal.js';
import { columnKind } from '../../src/shared/binlog/column-kind.js';

const utf8Hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');

describe('columnKind: what a column is, from its COLUMN_TYPE and character set', () => {
  const cases: [string, string | null, string][] = [
    ['tinyint(5) unsigned', null, 'int'],
    ['smallint(6)', null, 'int'],
    ['mediumint(7)', null, 'int'],
    ['int(8)', null, 'int'],
    ['bigint(20) unsigned', null, 'int'],
    ['year(4)', null, 'int'],
    ['decimal(7,2)', null, 'decimal'],
    ['float', null, 'float'],
    ['double unsigned', null, 'float'],
    ['bit(8)', null, 'bit'],
    ['date', null, 'date'],
    ['datetime', null, 'datetime(0)'],
    ['datetime(3)', null, 'datetime(3)'],
    ['timestamp(4)', null, 'timestamp(4)'],
    ['time(5)', null, 'time(5)'],
    ['char(4)', 'utf8mb4', 'text'],
    ['varchar(255)', 'latin1', 'text'],
    ['tinytext', 'utf8mb4', 'text'],
    ['longtext', 'utf8mb4', 'text'],
    ["enum('a','b','c')", 'utf8mb4', 'text'],
    ["set('a','b','c')", 'utf8mb4', 'text'],
    ['binary(1)', null, 'binary'],
    ['varbinary(4)', null, 'binary'],
    ['varchar(10)', 'binary', 'binary'],
    ['tinyblob', null, 'binary'],
    ['longblob', null, 'binary'],
    ['point', null, 'binary'],
    ['json', null, 'json'],
    ['uuid', null, 'text'],
    ['inet6', null, 'text'],
  ];
  for (const [type, charset, kind] of cases)
    test(`${type} (${charset ?? 'no charset'}) is ${kind}`, () => assert.equal(columnKind(type, charset), kind));
});

describe('filterLiteral: a binlog value as an SQL literal of its column type', () => {
  test('NULL of any kind', () => {
    for (const kind of ['int', 'text', 'json', 'timestamp(3)', undefined] as const) assert.equal(filterLiteral(null, kind, 'tidb'), 'NULL');
  });

  test('integers as numbers, beyond 2^53 exactly', () => {
    assert.equal(filterLiteral(25, 'int', 'tidb'), '25');
    assert.equal(filterLiteral(-128, 'int', 'tidb'), '-128');
    assert.equal(filterLiteral(18446744073709551615n, 'int', 'tidb'), '18446744073709551615');
    assert.equal(filterLiteral('-9223372036854775808', 'int', 'tidb'), '-9223372036854775808');
    assert.equal(filterLiteral(2021, 'int', 'tidb'), '2021', 'YEAR');
  });

  test('DECIMAL as its exact text, a bare DECIMAL literal', () => {
    assert.equal(filterLiteral('30.02', 'decimal', 'tidb'), '30.02');
    assert.equal(
      filterLiteral('-99999999999999999999999999999999999.999999999999999999999999999999', 'decimal', 'tidb'),
      '-99999999999999999999999999999999999.999999999999999999999999999999',
    );
    assert.equal(filterLiteral('0.000000000000000000000000000001', 'decimal', 'mariadb'), '0.000000000000000000000000000001');
  });

  test('FLOAT and DOUBLE in E notation, so they stay DOUBLE and keep every digit', () => {
    assert.equal(filterLiteral(31.323999404907227, 'float', 'tidb'), '3.1323999404907227e+1');
    assert.equal(filterLiteral(25, 'float', 'tidb'), '2.5e+1');
    assert.equal(filterLiteral(1.7976931348623157e308, 'float', 'tidb'), '1.7976931348623157e+308');
    assert.equal(filterLiteral(5e-324, 'float', 'tidb'), '5e-324');
    assert.equal(Number(filterLiteral(0.30000000000000004, 'float', 'tidb')), 0.30000000000000004);
  });

  test('BIT as the unsigned integer of its bytes', () => {
    assert.equal(filterLiteral(Buffer.from([0x0f]), 'bit', 'tidb'), '15');
    assert.equal(filterLiteral(Buffer.from('ffffffffffffffff', 'hex'), 'bit', 'tidb'), '18446744073709551615');
    assert.equal(filterLiteral(Buffer.alloc(0), 'bit', 'tidb'), '0');
  });

  test('DATE, DATETIME and TIME cast to their type with the column fractional digits', () => {
    assert.equal(filterLiteral('2021-06-22', 'date', 'tidb'), "CAST('2021-06-22' AS DATE)");
    assert.equal(filterLiteral('0000-00-00', 'date', 'mariadb'), "CAST('0000-00-00' AS DATE)");
    assert.equal(filterLiteral('2021-01-01 12:34:56.789', 'datetime(3)', 'tidb'), "CAST('2021-01-01 12:34:56.789' AS DATETIME(3))");
    assert.equal(filterLiteral('-838:58:50.12345', 'time(5)', 'tidb'), "CAST('-838:58:50.12345' AS TIME(5))");
    assert.equal(filterLiteral('12:00:00', 'time(0)', 'mariadb'), "CAST('12:00:00' AS TIME(0))");
  });

  test('TIMESTAMP as the DATETIME of its wall clock in the task zone, as the target session reads the column', () => {
    assert.equal(filterLiteral('2021-01-01 12:34:56.5678', 'timestamp(4)', 'tidb'), "CAST('2021-01-01 12:34:56.5678' AS DATETIME(4))");
    assert.equal(filterLiteral('0000-00-00 00:00:00', 'timestamp(0)', 'tidb'), "CAST('0000-00-00 00:00:00' AS DATETIME(0))");
  });

  test('text as utf8mb4 bytes compared byte by byte; nothing of it appears unquoted', () => {
    assert.equal(filterLiteral('Müller…', 'text', 'tidb'), `_utf8mb4 X'${utf8Hex('Müller…')}' COLLATE utf8mb4_bin`);
    assert.equal(filterLiteral('', 'text', 'mariadb'), "_utf8mb4 X'' COLLATE utf8mb4_bin");
    const hostile = "x'); DROP TABLE t; -- \\";
    assert.ok(!filterLiteral(hostile, 'text', 'tidb').includes('DROP'));
    assert.equal(filterLiteral('b,c', 'text', 'tidb'), `_utf8mb4 X'${utf8Hex('b,c')}' COLLATE utf8mb4_bin`, 'SET');
  });

  test('bytes in hex', () => {
    assert.equal(filterLiteral(Buffer.from([0x00, 0xff, 0x27]), 'binary', 'tidb'), "X'00ff27'");
    assert.equal(filterLiteral(Buffer.alloc(0), 'binary', 'tidb'), "X''");
  });

  test('JSON cast to JSON where the target has the type, text on MariaDB', () => {
    const text = `_utf8mb4 X'${utf8Hex('{"id": 2}')}' COLLATE utf8mb4_bin`;
    assert.equal(filterLiteral('{"id": 2}', 'json', 'tidb'), `CAST(${text} AS JSON)`);
    assert.equal(filterLiteral('{"id": 2}', 'json', 'mysql'), `CAST(${text} AS JSON)`);
    assert.equal(filterLiteral('{"id": 2}', 'json', 'mariadb'), text);
  });

  test('a value whose column kind is not known goes by its form', () => {
    assert.equal(filterLiteral(7, undefined, 'tidb'), '7');
    assert.equal(filterLiteral(0.5, undefined, 'tidb'), '5e-1');
    assert.equal(filterLiteral(2n ** 64n - 1n, undefined, 'tidb'), '18446744073709551615');
    assert.equal(filterLiteral(Buffer.from('ab'), undefined, 'tidb'), "X'6162'");
    assert.equal(filterLiteral('a', undefined, 'tidb'), "_utf8mb4 X'61' COLLATE utf8mb4_bin");
  });

  test('a value that does not look like its kind is never pasted', () => {
    assert.equal(filterLiteral('1; DROP', 'int', 'tidb'), `_utf8mb4 X'${utf8Hex('1; DROP')}' COLLATE utf8mb4_bin`);
    assert.equal(
      filterLiteral("1' OR '1", 'datetime(0)', 'tidb'),
      `CAST(_utf8mb4 X'${utf8Hex("1' OR '1")}' COLLATE utf8mb4_bin AS DATETIME(0))`,
    );
    assert.equal(filterLiteral('x', 'decimal', 'tidb'), "_utf8mb4 X'78' COLLATE utf8mb4_bin");
  });
});
