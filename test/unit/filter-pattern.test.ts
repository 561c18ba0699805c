import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePattern, compileRegExp } from '../../src/shared/filter/pattern.js';
import { DmqError } from '../../src/shared/errors.js';

describe('DM name patterns', () => {
  // [pattern, caseSensitive, name, matches]
  const cases: [string, boolean, string, boolean][] = [
    ['test_db', false, 'test_db', true],
    ['test_db', false, 'test_db2', false], // wildcards match the whole name
    ['test_db', false, 'TEST_DB', true],
    ['test_db', true, 'TEST_DB', false],
    ['shard_*', false, 'shard_', true],
    ['shard_*', false, 'shard_0001', true],
    ['shard_*', false, 'xshard_1', false],
    ['*_log', false, 'access_log', true],
    ['t?', false, 't1', true],
    ['t?', false, 't12', false],
    ['t_[0-9]', false, 't_7', true],
    ['t_[0-9]', false, 't_x', false],
    ['t_[!0-9]', false, 't_x', true],
    ['t_[!0-9]', false, 't_7', false],
    ['t_[^ab]', false, 't_c', true],
    ['t_[^ab]', false, 't_a', false],
    ['t_[ab]', false, 't_B', true],
    ['t_[ab]', true, 't_B', false],
    ['a.b', false, 'a.b', true], // regex metacharacters are literal in wildcards
    ['a.b', false, 'axb', false],
    ['a+b', false, 'a+b', true],
    ['a\\*', false, 'a*', true],
    ['a\\*', false, 'ab', false],
    ['~^shard_\\d+$', false, 'shard_12', true],
    ['~^shard_\\d+$', false, 'shard_12x', false],
    ['~shard', false, 'my_shard_1', true], // regexes search, like Go's MatchString
    ['~^Shard', false, 'shard_1', true],
    ['~^Shard', true, 'shard_1', false],
    ['~(?i)^Shard', true, 'shard_1', true], // Go inline flag
    ['~^(?P<n>t)_\\d$', true, 't_1', true], // Go named group
    ['~^[^_]+_\\D$', false, 'a_b', true], // \D must not be lower-cased into \d
  ];
  for (const [pattern, caseSensitive, name, expected] of cases) {
    test(`${JSON.stringify(pattern)} ${caseSensitive ? '(case-sensitive) ' : ''}${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
      assert.equal(compilePattern(pattern, caseSensitive)(name), expected);
    });
  }

  for (const bad of ['~(', '~[a-', 't_[0-9', '~a{2,1}']) {
    test(`${JSON.stringify(bad)} is a config error naming the pattern`, () => {
      assert.throws(
        () => compilePattern(bad, false),
        (err: unknown) => err instanceof DmqError && err.code === 'CONFIG_INVALID' && err.message.includes(JSON.stringify(bad)),
      );
    });
  }
});

/**
 * Patterns that make a backtracking engine take exponential (or high polynomial) time in the
 * name's length. On V8's engine the first alone runs for hours against 40 letters; the per-test
 * timeout is what fails if matching is not linear.
 */
describe('patterns run in linear time (RE2)', () => {
  const letters = 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn';
  const cases: [pattern: string, name: string, matches: boolean][] = [
    ['~^([a-z]+_?)+\\d$', letters, false],
    ['~^([a-z]+_?)+\\d$', `${letters.slice(0, 39)}7`, true],
    ['~^(a|aa)+$', `${'a'.repeat(40)}b`, false],
    ['~^(\\w+\\s?)*$', `${'word '.repeat(8)}!`, false],
    ['*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(64), false],
    ['*a*a*a*a*a*a*a*a*a*a*a*a*b', `${'a'.repeat(63)}b`, true],
  ];
  for (const [pattern, name, expected] of cases) {
    test(`${JSON.stringify(pattern)} against ${name.length} characters ${expected ? 'matches' : 'does not match'}`, {
      timeout: 10_000,
    }, () => {
      assert.equal(compilePattern(pattern, false)(name), expected);
    });
  }

  test('sql-pattern and extract regexps run on the same engine', { timeout: 10_000 }, () => {
    assert.equal(compileRegExp('^([a-z]+_?)+\\d$', { ignoreCase: true }, 'x').test(letters.toUpperCase()), false);
    const match = compileRegExp('^(([a-z]+_?)+)(\\d)$', { ignoreCase: false }, 'x').exec(`${letters}5`);
    assert.deepEqual(match?.slice(1), [letters, letters, '5']);
  });

  test('Go syntax is RE2 syntax: named groups in both spellings, inline flags, Unicode classes', () => {
    assert.equal(compilePattern('~^(?P<p>shard)_(?<n>\\d+)$', true)('shard_12'), true);
    assert.equal(compilePattern('~(?i)^SHARD', true)('shard_1'), true);
    assert.equal(compilePattern('~^\\p{Han}+$', true)('订单'), true);
    assert.equal(compilePattern('t?', true)('t😀'), true, 'a wildcard ? stands for one character, not one UTF-16 unit');
  });

  test('an invalid pattern is CONFIG_INVALID carrying the RE2 error', () => {
    assert.throws(
      () => compilePattern('~^(a)\\1$', false),
      (err: unknown) => err instanceof DmqError && err.code === 'CONFIG_INVALID' && err.message.includes('invalid escape sequence: `\\1`'),
    );
  });
});
