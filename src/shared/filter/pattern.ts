import { RE2JS, RE2JSException } from 're2js';
import type { NamePattern } from '../config/types.js';
import { DmqError } from '../errors.js';

/**
 * DM's name patterns. `~regex` matches like Go's regexp.MatchString (anywhere in the name,
 * anchor it with ^...$ yourself); anything else is a wildcard over the whole name: `*` any run,
 * `?` one character, `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` a class, `\x` a literal x.
 * DM lower-cases names and patterns when case-insensitive; ignoring case does the same without
 * lower-casing regex escapes such as `\D` into `\d`.
 *
 * Every pattern runs on RE2 (re2js), as in DM: Go's syntax, and time linear in the name
 * whatever the pattern, where a backtracking engine can take hours on `^([a-z]+_?)+\d$`.
 */
export type NameMatcher = (name: string) => boolean;

export function compilePattern(pattern: NamePattern, caseSensitive: boolean): NameMatcher {
  const re = pattern.startsWith('~')
    ? compileRegExp(pattern.slice(1), { ignoreCase: !caseSensitive }, pattern)
    : compiled(`^${wildcardSource(pattern)}$`, RE2JS.DOTALL | (caseSensitive ? 0 : RE2JS.CASE_INSENSITIVE), pattern);
  return (name) => re.test(name);
}

/**
 * Compiled expressions by flags and source. Patterns come from task configs, so there are few;
 * the config check at submit and every matcher built from the task later share one compilation.
 */
const cache = new Map<string, RE2JS>();
const CACHE_LIMIT = 1024;

function compiled(source: string, flags: number, label: string): RE2JS {
  const key = `${flags}\u0000${source}`;
  let re = cache.get(key);
  if (re) return re;
  try {
    re = RE2JS.compile(source, flags);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new DmqError('CONFIG_INVALID', `invalid regular expression ${JSON.stringify(label)}: ${err.message}`, {
      where: label,
      workaround:
        'fix the regular expression (RE2 syntax, as in Go and DM: no lookaround or backreferences); after the leading ~ for name patterns, or use a wildcard pattern',
      cause: err,
    });
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, re);
  return re;
}

/** A Go (RE2) regular expression as DM users write them, `(?i)` and `(?P<name>...)` included. `label` names it in the error. */
export function compileRegExp(source: string, options: { ignoreCase: boolean }, label: string): RE2JS {
  return compiled(source, options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0, label);
}

function wildcardSource(pattern: string): string {
  // By code point: `?` stands for one character, which may be a surrogate pair in UTF-16.
  const chars = Array.from(pattern);
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < chars.length) out += RE2JS.quote(chars[++i]!);
    else if (c === '[') {
      const end = classEnd(chars, i);
      if (end < 0) {
        throw new DmqError('CONFIG_INVALID', `invalid wildcard pattern ${JSON.stringify(pattern)}: "[" without a closing "]"`, {
          where: pattern,
          workaround: 'close the character class, or write \\[ for a literal bracket',
        });
      }
      out += classSource(chars.slice(i + 1, end).join(''));
      i = end;
    } else out += RE2JS.quote(c);
  }
  return out;
}

/** Index of the `]` closing the class opened at `open`; a `]` first in the class is literal. */
function classEnd(chars: string[], open: number): number {
  let i = open + 1;
  if (chars[i] === '!' || chars[i] === '^') i++;
  if (chars[i] === ']') i++;
  return chars.indexOf(']', i);
}

function classSource(body: string): string {
  const negated = body.startsWith('!') || body.startsWith('^');
  const members = (negated ? body.slice(1) : body).replace(/[\\\][^]/g, '\\$&');
  return `[${negated ? '^' : ''}${members}]`;
}
