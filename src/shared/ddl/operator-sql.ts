import { notAboutData } from './not-data.js';
import { readDdl } from './read-ddl.js';
import { isPunct, keyword, lex, type Token } from './sql-lexer.js';

/**
 * The statements an operator gives `binlog replace`, checked before they are stored. Where they
 * run decides what may be among them:
 * - `rows`: a batch of rows the target rejected. They run inside the transaction that writes the
 *   batch and moves its table's checkpoint, so only statements that cannot end or change that
 *   transaction may: INSERT, UPDATE, DELETE, REPLACE. A COMMIT, ROLLBACK, SET autocommit, LOCK
 *   TABLES or any DDL (which commits implicitly) would commit rows without their checkpoint.
 * - `ddl`: a DDL the target rejected. They run one by one outside any transaction, on a pooled
 *   connection, before the checkpoint moves: DDL about tables and schemas, and row statements.
 *   Nothing that changes the connection for later users (SET, USE, LOCK, an open transaction).
 * - `source-ddl`: a DDL the reader refused. They are read as if the source had run them, routed
 *   and filtered: they must be DDL dmq can read.
 * Each statement is read with the project's lexer, the way the server splits a script, so a
 * `;` inside a string or comment is not a boundary and one given string may hold several
 * statements; the stored statements are those pieces, one each.
 */
export type ReplacedEvent = 'rows' | 'ddl' | 'source-ddl';

export type CheckedStatements = { ok: true; statements: string[] } | { ok: false; problems: string[] };

const ROW_VERBS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE']);
const DDL_VERBS = new Set(['CREATE', 'ALTER', 'DROP', 'RENAME', 'TRUNCATE']);
const TRANSACTION_VERBS = new Set(['COMMIT', 'ROLLBACK', 'BEGIN', 'START', 'SAVEPOINT', 'RELEASE', 'XA', 'LOCK', 'UNLOCK', 'SET']);

/** The statements of `sql`, as token runs between top-level `;`. */
function splitStatements(tokens: Token[]): Token[][] {
  const statements: Token[][] = [[]];
  for (const token of tokens) {
    if (isPunct(token, ';')) statements.push([]);
    else statements.at(-1)!.push(token);
  }
  return statements.filter((s) => s.length > 0);
}

/** The statement as written, from its first token to its last: comments around it dropped. */
const textOf = (sql: string, tokens: Token[]) => sql.slice(tokens[0]!.at, tokens.at(-1)!.at + tokens.at(-1)!.text.length);

const SHOWN = 60;
const shown = (text: string) => JSON.stringify(text.length > SHOWN ? `${text.slice(0, SHOWN)}…` : text);

function rowsProblem(verb: string | undefined): string | undefined {
  if (verb !== undefined && ROW_VERBS.has(verb)) return undefined;
  if (verb !== undefined && TRANSACTION_VERBS.has(verb)) {
    return 'would end or change the transaction that writes this batch with its checkpoint, so rows would be committed without it; only INSERT, UPDATE, DELETE and REPLACE can replace a batch of rows';
  }
  if (verb !== undefined && DDL_VERBS.has(verb)) {
    return 'is a DDL, which commits the transaction implicitly, so rows would be committed without their checkpoint; this position is a batch of rows, which only INSERT, UPDATE, DELETE and REPLACE can replace (a DDL can replace a DDL)';
  }
  return 'is not an INSERT, UPDATE, DELETE or REPLACE, the only statements that can replace a batch of rows';
}

function ddlProblem(verb: string | undefined, tokens: Token[]): string | undefined {
  if (verb !== undefined && ROW_VERBS.has(verb)) return undefined;
  if (verb !== undefined && DDL_VERBS.has(verb)) {
    const what = notAboutData(tokens);
    return what === undefined
      ? undefined
      : `is ${what}, not a change of tables or schemas; only DDL about tables, indexes and schemas and INSERT, UPDATE, DELETE, REPLACE can replace a DDL`;
  }
  if (verb !== undefined && TRANSACTION_VERBS.has(verb)) {
    return 'would leave a transaction, lock or session setting on a connection dmq goes on using; only DDL about tables, indexes and schemas and INSERT, UPDATE, DELETE, REPLACE can replace a DDL';
  }
  return 'is not DDL about tables, indexes or schemas nor an INSERT, UPDATE, DELETE or REPLACE, the statements that can replace a DDL';
}

function sourceDdlProblem(text: string): string | undefined {
  // Readability does not depend on which schema is the default, only on there being one.
  const reading = readDdl(text, 'default_schema');
  return reading.type === 'unreadable'
    ? `cannot be read as a DDL the source ran (${reading.reason}); at this position give the DDL the source should have run`
    : undefined;
}

/** The statements to store for `binlog replace` of an event of this kind, or why not. */
export function checkReplaceStatements(sqls: string[], replaces: ReplacedEvent): CheckedStatements {
  const problems: string[] = [];
  const statements: string[] = [];
  sqls.forEach((sql, i) => {
    const { tokens, executableComment } = lex(sql);
    const pieces = splitStatements(tokens);
    if (pieces.length === 0) problems.push(`sqls[${i}]: holds no statement, only comments or semicolons`);
    if (executableComment) {
      problems.push(
        `sqls[${i}]: ${shown(sql.trim())} has an executable comment (/*! ... */), whose contents run on the server; write the statement without it`,
      );
      return;
    }
    for (const piece of pieces) {
      const text = textOf(sql, piece);
      const verb = keyword(piece[0]);
      const problem = replaces === 'rows' ? rowsProblem(verb) : replaces === 'ddl' ? ddlProblem(verb, piece) : sourceDdlProblem(text);
      if (problem) problems.push(`sqls[${i}]: ${shown(text)} ${problem}`);
      else statements.push(text);
    }
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, statements };
}
