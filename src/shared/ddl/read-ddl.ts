import { isDeepStrictEqual } from 'node:util';
import type { TableRef } from '../config/types.js';
import { notAboutData } from './not-data.js';
import { DIALECTS, type Dialect, type Node, parseErrorReason, parseStatements, sameStatement, sqlify } from './sql-ast.js';
import { lex, literals, type Token } from './sql-lexer.js';
import { readByTokens, type StatementTable, statementTable } from './token-reader.js';
import { type DdlKind, type Piece, piecesOf, type Route, sameNames } from './ddl-pieces.js';

/**
 * Reads the DDL of a binlog QUERY event into what the replicator needs: what kind of DDL it is
 * (DM's event names, for binlog-event-filter), which tables it is about, and the statement to
 * run on the target with routed names. node-sql-parser reads it; every statement dmq would run
 * is rendered by the parser and read back, and only used if it reads back as the same tree.
 */

export interface DdlStatement {
  kind: DdlKind;
  /** The tables it is about, default schema resolved. First: the table whose change stream runs it. RENAME: [from, to]. Schema-level (database) statements: one ref with table ''. */
  tables: TableRef[];
  /** For ALTER TABLE: DM's finer event names of what it does (see ./alter-kinds.ts); [] otherwise. */
  alterKinds: string[];
  /** It only adds columns other rows may omit or non-unique indexes (see ./additive.ts). */
  additive: boolean;
  /** The source text of this statement alone (for logs, errors and sql-pattern). A source statement split in several (DROP TABLE a, b) gives each its whole text. */
  text: string;
  /** The statement for the target: every table name replaced by route(schema, table) and qualified with its schema (`route(schema, '')` for schema-level names), CREATE TABLE / CREATE DATABASE made IF NOT EXISTS, DROP TABLE / DROP DATABASE made IF EXISTS. */
  render(route: (schema: string, table: string) => TableRef): string;
  /** The parser's tree of this statement with every table name qualified, for the schema tracker; absent when read from tokens. */
  tree?: Node;
}

type DdlReading =
  | { type: 'ddl'; statements: DdlStatement[] }
  /** Not about data: GRANT/REVOKE, users and roles, triggers, procedures, functions, events, views, ANALYZE/OPTIMIZE/REPAIR/CHECK TABLE, FLUSH, SET PASSWORD, INSTALL PLUGIN, temporary tables ...; reason names what it is. */
  | { type: 'skip'; reason: string }
  /**
   * The parser cannot read it (or cannot render it back unchanged), or it is data DDL dmq does not
   * handle (CREATE TABLE ... SELECT, partition maintenance). `about`: the table it creates, alters
   * or drops, when its first tokens say.
   */
  | { type: 'unreadable'; reason: string; about?: StatementTable };

/** Why the text cannot be read, and whether the parser got as far as reading it. */
interface Failure {
  reason: string;
  parsed: boolean;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 160);

type Rendered = { sql: string } | { reason: string };

function renderPiece(piece: Piece, dialect: Dialect, route: Route): Rendered {
  const target = piece.target(route);
  let sql: string;
  try {
    sql = sqlify(target, dialect);
  } catch (error) {
    return { reason: `the parser cannot render it: ${message(error)}` };
  }
  if (!piece.rereadable) return { sql };
  try {
    const back = parseStatements(sql, dialect);
    if (back.length === 1 && back[0] !== undefined && sameStatement(back[0], target)) return { sql };
  } catch {
    return { reason: `the parser renders it as ${sql}, which it cannot read back` };
  }
  return { reason: `the parser renders it as ${sql}, which reads back differently` };
}

/**
 * The parser keeps a number as a JavaScript number and reads some words as names (`DEFAULT 1e3`),
 * and a tree read back from its own rendering cannot show that: the literals of the source and of
 * the parser's rendering must be the same.
 */
function literalChange(tokens: Token[], trees: Node[], dialect: Dialect): string | undefined {
  let rendered: string;
  try {
    rendered = trees.map((tree) => sqlify(tree, dialect)).join(';\n');
  } catch (error) {
    return `the parser cannot render it: ${message(error)}`;
  }
  const before = literals(tokens);
  const after = literals(lex(rendered).tokens);
  if (isDeepStrictEqual(before, after)) return undefined;
  const changed = before.find((literal) => !after.includes(literal));
  return changed === undefined
    ? `the parser renders it with literals the source does not have: ${rendered}`
    : `the parser does not keep the literal ${changed}`;
}

function statementOf(piece: Piece, dialect: Dialect, text: string): DdlStatement {
  return {
    kind: piece.kind,
    tables: piece.tables,
    alterKinds: piece.alterKinds,
    additive: piece.additive,
    text,
    tree: piece.target(sameNames),
    render: (route) => {
      const rendered = renderPiece(piece, dialect, route);
      // readDdl rendered it with the source names already; only a route can get here
      if ('reason' in rendered) throw new Error(`cannot render ${text} for the target: ${rendered.reason}`);
      return rendered.sql;
    },
  };
}

function readAs(text: string, tokens: Token[], defaultSchema: string, dialect: Dialect): DdlStatement[] | Failure {
  let trees: Node[];
  try {
    trees = parseStatements(text, dialect);
  } catch (error) {
    return { reason: parseErrorReason(error, text), parsed: false };
  }
  const failed = (reason: string): Failure => ({ reason, parsed: true });
  const changed = literalChange(tokens, trees, dialect);
  if (changed !== undefined) return failed(changed);
  const pieces: Piece[] = [];
  for (const tree of trees) {
    const read = piecesOf(tree, defaultSchema);
    if (typeof read === 'string') return failed(read);
    pieces.push(...read);
  }
  for (const piece of pieces) {
    const rendered = renderPiece(piece, dialect, sameNames);
    if ('reason' in rendered) return failed(rendered.reason);
  }
  return pieces.map((piece) => statementOf(piece, dialect, text));
}

export function readDdl(sql: string, defaultSchema: string): DdlReading {
  const text = sql.trim();
  const { tokens, executableComment } = lex(text);
  if (tokens.length === 0) return { type: 'unreadable', reason: 'there is no statement, only comments' };
  const what = notAboutData(tokens);
  if (what !== undefined) return { type: 'skip', reason: what };
  if (executableComment) {
    return {
      type: 'unreadable',
      reason: 'it has an executable comment (/*! ... */), which the parser would drop although the source ran it',
    };
  }
  const failures: Failure[] = [];
  for (const dialect of DIALECTS) {
    const read = readAs(text, tokens, defaultSchema, dialect);
    if (Array.isArray(read)) return { type: 'ddl', statements: read };
    failures.push(read);
  }
  const byTokens = readByTokens(tokens, defaultSchema, text);
  if (byTokens) return { type: 'ddl', statements: [byTokens] };
  // a reason from a grammar that read the statement says more than another grammar's syntax error
  const failure = failures.reduce((best, next) => (best.parsed || !next.parsed ? best : next));
  const about = statementTable(tokens, defaultSchema);
  return about ? { type: 'unreadable', reason: failure.reason, about } : { type: 'unreadable', reason: failure.reason };
}
