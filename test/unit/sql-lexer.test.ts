import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lex, type TokenKind, tokenValue } from '../../src/shared/ddl/sql-lexer.js';

const kindsAndValues = (sql: string) => lex(sql).tokens.map((t) => [t.kind, tokenValue(t)]);

describe('lex: account names and host parts of SHOW GRANTS', () => {
  const cases: { sql: string; tokens: [TokenKind, string][] }[] = [
    {
      sql: "'o''brien'@'%'",
      tokens: [
        ['string', "o'brien"],
        ['punct', '@'],
        ['string', '%'],
      ],
    },
    {
      sql: '`r 1`@`local``host`',
      tokens: [
        ['quoted', 'r 1'],
        ['punct', '@'],
        ['quoted', 'local`host'],
      ],
    },
    {
      sql: 'u@localhost',
      tokens: [
        ['word', 'u'],
        ['punct', '@'],
        ['word', 'localhost'],
      ],
    },
    {
      sql: '"it\\"s"@\'%\'',
      tokens: [
        ['string', 'it"s'],
        ['punct', '@'],
        ['string', '%'],
      ],
    },
    {
      sql: "``@''",
      tokens: [
        ['quoted', ''],
        ['punct', '@'],
        ['string', ''],
      ],
    },
  ];
  for (const c of cases) test(c.sql, () => assert.deepEqual(kindsAndValues(c.sql), c.tokens));

  test('a privilege list is words and punctuation, whatever the words', () => {
    assert.deepEqual(kindsAndValues('LOAD FROM S3, INVOKE LAMBDA ON *.*'), [
      ['word', 'LOAD'],
      ['word', 'FROM'],
      ['word', 'S3'],
      ['punct', ','],
      ['word', 'INVOKE'],
      ['word', 'LAMBDA'],
      ['word', 'ON'],
      ['punct', '*'],
      ['punct', '.'],
      ['punct', '*'],
    ]);
  });
});

describe('tokenValue', () => {
  const cases: [string, string][] = [
    ['`we``ird`', 'we`ird'],
    // Inside backquotes a backslash is a character: this is the db pattern `test\_%`.
    ['`test\\_%`', 'test\\_%'],
    ["'it\\'s'", "it's"],
    ["'a\\nb\\tc\\0d\\Ze\\\\f'", 'a\nb\tc\0d\x1ae\\f'],
    ["'50\\% off\\_sale'", '50\\% off\\_sale'],
    ["'\\q'", 'q'],
    ['"say ""hi"""', 'say "hi"'],
    ['SELECT', 'SELECT'],
    ['0x1F', '0x1F'],
  ];
  for (const [sql, value] of cases) {
    test(sql, () => {
      const { tokens } = lex(sql);
      assert.equal(tokens.length, 1);
      assert.equal(tokenValue(tokens[0]!), value);
    });
  }

  test('an unterminated quote runs to the end', () => assert.equal(tokenValue(lex("'abc").tokens[0]!), 'abc'));
});
