import type { ConfigNotice } from './types.js';

/**
 * The target session variables an operator may set (`target-database.session`), and those dmq
 * owns because the SQL it sends depends on them:
 * - values go in string literals with backslash escapes (the driver's and the chunk files'),
 *   which NO_BACKSLASH_ESCAPES would turn into an upstream string closing its literal early
 *   and running the rest as SQL on the target;
 * - statements are read as MySQL reads them by default: ANSI_QUOTES would make a "string" in a
 *   replicated DDL or an operator's statement a name, unlike the lexer that checked it;
 * - text is sent and read as utf8mb4: another client character set reads the bytes differently,
 *   and in gbk, sjis, big5 or cp932 the byte after a multi-byte lead is often 0x5C, so an escaping
 *   backslash would become part of a character and free the quote behind it;
 * - every transaction is pessimistic on TiDB (see connect.ts).
 * Each problem is `<path>.<variable>: <why>`, with what to do.
 */

/** sql_mode words dmq cannot write under, and the combination modes that include them. */
const OWNED_MODES: Record<string, string> = {
  NO_BACKSLASH_ESCAPES: 'dmq escapes values with backslashes, which this mode reads as plain characters',
  ANSI_QUOTES: 'dmq and replicated DDL write "..." as strings, which this mode reads as names',
};
const COMBINED_MODES: Record<string, string> = {
  ANSI: 'ANSI_QUOTES',
  DB2: 'ANSI_QUOTES',
  MAXDB: 'ANSI_QUOTES',
  MSSQL: 'ANSI_QUOTES',
  ORACLE: 'ANSI_QUOTES',
  POSTGRESQL: 'ANSI_QUOTES',
};

const CHARSET_VARIABLES = new Set(['character_set_client', 'character_set_connection', 'character_set_results', 'collation_connection']);

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sqlModeProblem(value: string | number, at: string): string | undefined {
  if (typeof value === 'number') {
    return `${at}: give sql_mode as mode names ("NO_ENGINE_SUBSTITUTION,..."), not as the number ${value}, so dmq can check it`;
  }
  const words = value.split(',').map((w) => w.trim().toUpperCase());
  // Mode names only: the value is escaped before dmq's sql_mode is in force.
  if (!words.every((w) => /^[A-Z0-9_]*$/.test(w))) return `${at}: ${JSON.stringify(value)} is not a list of sql_mode names`;
  for (const word of words) {
    const owned = OWNED_MODES[word] !== undefined ? word : COMBINED_MODES[word];
    if (owned === undefined) continue;
    const via = owned === word ? owned : `${word} (which includes ${owned})`;
    return `${at}: ${via} is not allowed: ${OWNED_MODES[owned]}; remove it (dmq sets sql_mode NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION when the session names none)`;
  }
  return undefined;
}

/** The key `session` sets `name` under, in whatever case (variable names are case-insensitive). */
export function sessionKey(session: Record<string, unknown>, name: string): string | undefined {
  return Object.keys(session).find((key) => key.toLowerCase() === name);
}

/**
 * DM's own files ask for optimistic transactions (`dmctl get-config` writes it). The data is the
 * same either way and dmq's checkpoint lock needs pessimistic ones, so the setting is taken out
 * of `session` with a notice instead of refused; targetSessionProblems still refuses it in a
 * session stored before this.
 */
export function dropOtherTxnMode(session: Record<string, string | number>, path: string): ConfigNotice[] {
  const key = sessionKey(session, 'tidb_txn_mode');
  if (key === undefined || String(session[key]).toLowerCase() === 'pessimistic') return [];
  const note = `${JSON.stringify(session[key])} not applied: dmq runs its transactions pessimistic, which its exactly-once checkpoint lock needs; the data migrated is the same`;
  delete session[key];
  return [{ field: `${path}.${key}`, note }];
}

/** What is wrong with a target session, one line per variable; [] when dmq can work with it. */
export function targetSessionProblems(session: Record<string, string | number>, path: string): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(session)) {
    const at = `${path}.${name}`;
    const lower = name.toLowerCase();
    if (!NAME.test(name)) {
      problems.push(`${at}: not a system variable name; use plain names such as sql_mode or tidb_txn_mode`);
    } else if (lower === 'sql_mode') {
      const problem = sqlModeProblem(value, at);
      if (problem) problems.push(problem);
    } else if (CHARSET_VARIABLES.has(lower)) {
      problems.push(
        `${at}: dmq sends and reads text as utf8mb4, and its escaping is safe only in that character set; remove it (the target converts to each column's own character set)`,
      );
    } else if (lower === 'tidb_txn_mode' && String(value).toLowerCase() !== 'pessimistic') {
      problems.push(
        `${at}: ${JSON.stringify(value)} would let two deliveries of one batch both apply; remove it: dmq runs its transactions pessimistic, whatever the cluster default is`,
      );
    }
  }
  return problems;
}
