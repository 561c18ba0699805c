import type { NamePattern } from '../config/types.js';
import { DmqError } from '../errors.js';

/**
 * DM's name patterns. `~regex` matches like Go's regexp.MatchString (anywhere in the name,
 * anchor it with ^...$ yourself); anything else is a wildcard over the whole name: `*` any run,
 * `?` one character, `[abc]`, `[a-z]`, `[!abc]` / `[^abc]` a class, `\x` a literal x.
 * DM lower-cases names and patterns when case-insensitive; an `i` flag does the same without
 * lower-casing regex escapes such as `\D` into `\d`.
 */
export type NameMatcher = (name: string) => boolean;

export function compilePattern(pattern: NamePattern, caseSensitive: boolean): NameMatcher {
  const re = pattern.startsWith('~')
    ? compileRegExp(pattern.slice(1), caseSensitive ? '' : 'i', pattern)
    : new RegExp(`^${wildcardSource(pattern)}$`, caseSensitive ? 's' : 'is');
  return (name) => re.test(name);
}

/**
 * A JS RegExp from a Go (RE2) regular expression as DM users write them: a leading inline
 * flag group such as `(?i)` becomes a flag, `(?P<name>` becomes `(?<name>`. `label` names the
 * pattern in the error.
 */
export function compileRegExp(source: string, flags: string, label: string): RegExp {
  let body = source;
  let allFlags = flags;
  const inline = /^\(\?([ims]+)\)/.exec(body);
  if (inline) {
    body = body.slice(inline[0].length);
    for (const f of inline[1]!) if (!allFlags.includes(f)) allFlags += f;
  }
  body = body.replace(/\(\?P</g, '(?<');
  try {
    return new RegExp(body, allFlags);
  } catch (err) {
    // V8 repeats the whole expression in its message; keep only the reason.
    const reason = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    throw new DmqError('CONFIG_INVALID', `invalid regular expression ${JSON.stringify(label)}: ${reason}`, {
      where: label,
      workaround: 'fix the regular expression (after the leading ~ for name patterns), or use a wildcard pattern',
      cause: err,
    });
  }
}

function wildcardSource(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < pattern.length) out += escapeRegExp(pattern[++i]!);
    else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end < 0) {
        throw new DmqError('CONFIG_INVALID', `invalid wildcard pattern ${JSON.stringify(pattern)}: "[" without a closing "]"`, {
          where: pattern,
          workaround: 'close the character class, or write \\[ for a literal bracket',
        });
      }
      out += classSource(pattern.slice(i + 1, end));
      i = end;
    } else out += escapeRegExp(c);
  }
  return out;
}

/** Index of the `]` closing the class opened at `open`; a `]` first in the class is literal. */
function classEnd(pattern: string, open: number): number {
  let i = open + 1;
  if (pattern[i] === '!' || pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  return pattern.indexOf(']', i);
}

function classSource(body: string): string {
  const negated = body.startsWith('!') || body.startsWith('^');
  const members = (negated ? body.slice(1) : body).replace(/[\\\][^]/g, '\\$&');
  return `[${negated ? '^' : ''}${members}]`;
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
