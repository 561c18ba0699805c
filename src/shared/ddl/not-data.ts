import { isPunct, keyword as word, type Token } from './sql-lexer.js';

/**
 * Statements that change no table data: accounts, privileges, stored programs, views, table
 * maintenance, server state. They are told apart by their leading keywords because the parser
 * cannot read most of them, and none of them needs reading: dmq skips them whole.
 */

// Statements whose first word says it all.
const NOT_DATA_VERBS = new Set(['GRANT', 'REVOKE', 'FLUSH', 'ANALYZE', 'OPTIMIZE', 'REPAIR', 'CHECK', 'CHECKSUM', 'INSTALL', 'UNINSTALL']);
// SET only with these: MariaDB's SET STATEMENT ... FOR ALTER TABLE ... is about data.
const NOT_DATA_SETS = new Set(['PASSWORD', 'DEFAULT', 'ROLE']);
// CREATE / ALTER / DROP / RENAME of these.
const NOT_DATA_OBJECTS = new Set(['USER', 'ROLE', 'TRIGGER', 'PROCEDURE', 'FUNCTION', 'EVENT', 'VIEW', 'SERVER', 'TABLESPACE', 'LOGFILE']);
const DATA_OBJECTS = new Set(['TABLE', 'DATABASE', 'SCHEMA', 'INDEX', 'SEQUENCE']);
const OBJECT_VERBS = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME']);
// Words between the verb and the object: CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`u`@`h` SQL
// SECURITY INVOKER VIEW, DROP TEMPORARY TABLE, ALTER ONLINE IGNORE TABLE, CREATE UNIQUE INDEX ...
const MODIFIERS = new Set([
  'OR',
  'REPLACE',
  'TEMPORARY',
  'UNIQUE',
  'FULLTEXT',
  'SPATIAL',
  'ONLINE',
  'OFFLINE',
  'IGNORE',
  'AGGREGATE',
  'SQL',
  'SECURITY',
  'DEFINER',
  'INVOKER',
]);
const VALUED_MODIFIERS = new Set(['DEFINER', 'ALGORITHM']);

/** Past `= value` of ALGORITHM= or DEFINER= (`user`@`host`, 'user'@'%', CURRENT_USER()). */
function skipModifierValue(tokens: Token[], at: number): number {
  let i = at + 1;
  while (isPunct(tokens[i], '@')) i += 2;
  if (isPunct(tokens[i], '(') && isPunct(tokens[i + 1], ')')) i += 2;
  return i;
}

/** The object word after CREATE/ALTER/DROP/RENAME, and the modifiers before it. */
function objectOf(tokens: Token[]): { object: string; modifiers: string[] } | undefined {
  const modifiers: string[] = [];
  let i = 1;
  for (let w = word(tokens[i]); w !== undefined; w = word(tokens[i])) {
    if (DATA_OBJECTS.has(w) || NOT_DATA_OBJECTS.has(w)) return { object: w, modifiers };
    if (VALUED_MODIFIERS.has(w) && isPunct(tokens[i + 1], '=')) i = skipModifierValue(tokens, i + 2);
    else if (MODIFIERS.has(w)) i++;
    else return undefined;
    modifiers.push(w);
  }
  return undefined;
}

/** What the statement is when it is not about table data (e.g. 'CREATE TRIGGER'), else undefined. */
export function notAboutData(tokens: Token[]): string | undefined {
  const verb = word(tokens[0]);
  if (verb === undefined) return undefined;
  const second = word(tokens[1]);
  if (NOT_DATA_VERBS.has(verb)) return second === undefined ? verb : `${verb} ${second}`;
  if (verb === 'SET') return second !== undefined && NOT_DATA_SETS.has(second) ? `SET ${second}` : undefined;
  if (!OBJECT_VERBS.has(verb)) return undefined;
  const found = objectOf(tokens);
  if (found === undefined) return undefined;
  if (NOT_DATA_OBJECTS.has(found.object)) return `${verb} ${found.object}`;
  // A temporary table lives in one source session; the target never sees that session.
  if (found.object === 'TABLE' && found.modifiers.includes('TEMPORARY')) return `${verb} TEMPORARY TABLE`;
  return undefined;
}
