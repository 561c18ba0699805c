/**
 * A MySQL lexer just good enough to see where comments, quoted names and literals begin and end,
 * the way the server does before it parses. It reads no grammar: readDdl uses it for the few
 * things node-sql-parser cannot tell it — the leading keywords of statements the parser cannot
 * read (to recognise those not about data), executable comments (the parser drops them though the
 * server ran them), and the literals (to notice the parser rounding a number).
 * The precheck reads SHOW GRANTS lines with it too: their privilege lists (Aurora's `LOAD FROM
 * S3`, MySQL 8's dynamic privileges) are words no grammar knows.
 */

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'punct';

export interface Token {
  kind: TokenKind;
  /** As written: quotes and escapes included. */
  text: string;
  /** Where it starts in the statement, so a token can be replaced in place. */
  at: number;
}

interface Lexed {
  /** The statement as the server reads it, the contents of executable comments included. */
  tokens: Token[];
  /** It holds a `/*! ... *\/` or `/*M! ... *\/` comment. */
  executableComment: boolean;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isSpace = (c: string | undefined) =>
  c !== undefined && (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v');
// MySQL's unquoted identifier characters: ASCII letters, digits, $, _ and anything beyond U+007F.
const isWordChar = (c: string | undefined) =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c === '$' || c === '_' || c >= '\u0080');

function endOfLine(sql: string, from: number): number {
  const end = sql.indexOf('\n', from);
  return end < 0 ? sql.length : end + 1;
}

/** The end of a quoted run opened at `from`: a doubled quote or (in strings) a backslash escapes. */
function endOfQuoted(sql: string, from: number, backslashEscapes: boolean): number {
  const quote = sql[from];
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === quote && sql[i + 1] === quote) i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return sql.length;
}

function endOfNumber(sql: string, from: number): number {
  let i = from;
  while (isDigit(sql[i])) i++;
  if (sql[i] === '.') {
    i++;
    while (isDigit(sql[i])) i++;
  }
  const signed = sql[i + 1] === '+' || sql[i + 1] === '-';
  if ((sql[i] === 'e' || sql[i] === 'E') && isDigit(sql[signed ? i + 2 : i + 1])) {
    i += signed ? 2 : 1;
    while (isDigit(sql[i])) i++;
  }
  return i;
}

function endOfWord(sql: string, from: number): number {
  let i = from;
  while (isWordChar(sql[i])) i++;
  return i;
}

const isHexOrBitNumber = (word: string) => {
  const prefix = word.slice(0, 2).toLowerCase();
  const digits = word.slice(2);
  if (digits === '') return false;
  if (prefix === '0x') return [...digits].every((c) => isDigit(c) || (c.toLowerCase() >= 'a' && c.toLowerCase() <= 'f'));
  return prefix === '0b' && [...digits].every((c) => c === '0' || c === '1');
};

/** A number, or a word that starts with digits (`1abc` is a name, `0x1F` a number). */
function numberOrWord(sql: string, from: number): { end: number; kind: TokenKind } {
  const end = endOfNumber(sql, from);
  if (!isWordChar(sql[end])) return { end, kind: 'number' };
  const wordEnd = endOfWord(sql, from);
  return { end: wordEnd, kind: isHexOrBitNumber(sql.slice(from, wordEnd)) ? 'number' : 'word' };
}

/** The length of an executable comment's opening (`/*!`, `/*M!` and the version digits), or 0. */
function executableOpening(sql: string, at: number): number {
  const bang = sql.startsWith('/*!', at) ? 3 : sql.startsWith('/*M!', at) ? 4 : 0;
  if (bang === 0) return 0;
  let i = at + bang;
  while (isDigit(sql[i])) i++;
  return i - at;
}

export function lex(sql: string): Lexed {
  const tokens: Token[] = [];
  let executableComment = false;
  let inExecutable = false;
  let i = 0;
  const push = (kind: TokenKind, end: number) => {
    tokens.push({ kind, text: sql.slice(i, end), at: i });
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    const opening = executableOpening(sql, i);
    if (isSpace(c)) i++;
    else if (opening > 0) {
      executableComment = inExecutable = true;
      i += opening;
    } else if (inExecutable && c === '*' && next === '/') {
      inExecutable = false;
      i += 2;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '#' || (c === '-' && next === '-' && (isSpace(sql[i + 2]) || i + 2 >= sql.length))) {
      i = endOfLine(sql, i);
    } else if (c === "'" || c === '"') push('string', endOfQuoted(sql, i, true));
    else if (c === '`') push('quoted', endOfQuoted(sql, i, false));
    else if (isDigit(c)) {
      const { end, kind } = numberOrWord(sql, i);
      push(kind, end);
    } else if (c === '.' && isDigit(next) && !['word', 'quoted'].includes(tokens.at(-1)?.kind ?? '')) push('number', endOfNumber(sql, i));
    else if (isWordChar(c)) push('word', endOfWord(sql, i));
    else push('punct', i + 1);
  }
  return { tokens, executableComment };
}

/** What MySQL reads for a backslash escape in a string; other escaped characters stand for themselves. */
const STRING_ESCAPES: Record<string, string> = {
  '0': '\0',
  b: '\b',
  n: '\n',
  r: '\r',
  t: '\t',
  Z: '\x1a',
  // Kept with their backslash so a LIKE pattern can still tell an escaped wildcard from a wildcard.
  '%': '\\%',
  _: '\\_',
};

/**
 * What a token stands for: a backquoted name or a string without its quotes and escapes (inside
 * backquotes a backslash is an ordinary character: `test\_db` is a wildcard-escaped db name); a
 * word, number or punctuation as written.
 */
export function tokenValue(token: Token): string {
  if (token.kind !== 'quoted' && token.kind !== 'string') return token.text;
  const { text } = token;
  const quote = text[0];
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === quote) {
      if (text[i + 1] !== quote) break;
      i++;
      value += quote;
    } else if (c === '\\' && token.kind === 'string' && i + 1 < text.length) {
      i++;
      value += STRING_ESCAPES[text[i]!] ?? text[i];
    } else {
      value += c;
    }
  }
  return value;
}

/** A word token in upper case (a keyword, or an unquoted name), else undefined. */
export const keyword = (token: Token | undefined) => (token?.kind === 'word' ? token.text.toUpperCase() : undefined);

export const isPunct = (token: Token | undefined, text: string) => token?.kind === 'punct' && token.text === text;

/** A number's value as text (`007` and `7` are one number), for comparing literals. */
function numberValue(text: string): string {
  const lower = text.toLowerCase();
  if (lower.startsWith('0x') || lower.startsWith('0b')) return lower;
  return lower.replace(/^0+(?=\d)/, '');
}

/**
 * The string and number literals of a statement, sorted: two statements that say the same thing
 * hold the same literals, however they are laid out.
 */
export function literals(tokens: Token[]): string[] {
  return tokens
    .filter((t) => t.kind === 'string' || t.kind === 'number')
    .map((t) => (t.kind === 'number' ? numberValue(t.text) : t.text))
    .sort();
}
