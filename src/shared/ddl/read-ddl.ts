import { isDeepStrictEqual } from 'node:util';
import type { TableRef } from '../config/types.js';
import { isAdditive } from './additive.js';
import { alterKindsOf } from './alter-kinds.js';
import { notAboutData } from './not-data.js';
import {
  DIALECTS,
  type Dialect,
  isNode,
  isTableRefNode,
  nameOf,
  type Node,
  oneRef,
  parseErrorReason,
  parseStatements,
  rawName,
  sameStatement,
  sqlify,
  tableRefNodes,
  type TableRefNode,
  valuesAt,
} from './sql-ast.js';
import { lex, literals, type Token } from './sql-lexer.js';
import { readByTokens } from './token-reader.js';

/**
 * Reads the DDL of a binlog QUERY event into what the replicator needs: what kind of DDL it is
 * (DM's event names, for binlog-event-filter), which tables it is about, and the statement to
 * run on the target with routed names. node-sql-parser reads it; every statement dmq would run
 * is rendered by the parser and read back, and only used if it reads back as the same tree.
 */

export type DdlKind =
  | 'create database'
  | 'drop database'
  | 'alter database'
  | 'create table'
  | 'drop table'
  | 'truncate table'
  | 'rename table'
  | 'alter table'
  | 'create index'
  | 'drop index';

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
}

type DdlReading =
  | { type: 'ddl'; statements: DdlStatement[] }
  /** Not about data: GRANT/REVOKE, users and roles, triggers, procedures, functions, events, views, ANALYZE/OPTIMIZE/REPAIR/CHECK TABLE, FLUSH, SET PASSWORD, INSTALL PLUGIN, temporary tables ...; reason names what it is. */
  | { type: 'skip'; reason: string }
  /** The parser cannot read it (or cannot render it back unchanged), or it is data DDL dmq does not handle (CREATE TABLE ... SELECT, partition maintenance). */
  | { type: 'unreadable'; reason: string };

type Route = (schema: string, table: string) => TableRef;

/** One statement for one table's stream, before routing. */
interface Piece {
  kind: DdlKind;
  tables: TableRef[];
  alterKinds: string[];
  additive: boolean;
  /** The tree to render for the target under a route. */
  target: (route: Route) => Node;
  /** Whether the parser can read back what it renders (it cannot after DROP DATABASE). */
  rereadable: boolean;
}

/** Why the text cannot be read, and whether the parser got as far as reading it. */
interface Failure {
  reason: string;
  parsed: boolean;
}

const sameNames: Route = (schema, table) => ({ schema, table });

const refOf = (node: TableRefNode): TableRef => ({ schema: nameOf(node.db ?? ''), table: nameOf(node.table) });

/** A piece whose names are all table names, routed wherever they sit in the tree. */
function tablePiece(kind: DdlKind, refs: TableRefNode[], tree: Node, alterKinds: string[] = []): Piece {
  const target = (route: Route) => {
    const copy = structuredClone(tree);
    for (const node of tableRefNodes(copy)) {
      const to = route(nameOf(node.db ?? ''), nameOf(node.table));
      node.db = rawName(to.schema);
      node.table = rawName(to.table);
    }
    return copy;
  };
  return { kind, tables: refs.map(refOf), alterKinds, additive: isAdditive(kind, tree), target, rereadable: true };
}

const shapeReason = (tree: Node) => `the parser read a ${String(tree.type).toUpperCase()} statement of a shape dmq does not know`;

/**
 * Qualifies every table name. A foreign key's parent table defaults to its child's schema, every
 * other name to the session's default schema (which is '' when none was selected).
 */
function resolveTableNames(tree: Node, defaultSchema: string): string | undefined {
  const parents = new Set(tableRefNodes(valuesAt(tree, 'reference_definition')));
  for (const node of tableRefNodes(tree)) {
    // MariaDB's grammar takes a word after a table name as an alias (DROP TABLE t RESTRICT).
    if (node.as !== undefined && node.as !== null) return `the parser reads ${String(node.as)} as an alias of table ${nameOf(node.table)}`;
    if (node.db !== null || parents.has(node)) continue;
    if (defaultSchema === '') return `table ${nameOf(node.table)} has no schema and the statement ran with no default schema`;
    node.db = rawName(defaultSchema);
  }
  const child = oneRef(tree.table);
  for (const parent of parents) parent.db ??= child?.db ?? null;
  return [...parents].some((parent) => parent.db === null) ? shapeReason(tree) : undefined;
}

function createTable(tree: Node): Piece[] | string {
  if (tree.query_expr) return 'CREATE TABLE ... SELECT copies rows, which dmq does not replicate';
  const table = oneRef(tree.table);
  if (!table) return shapeReason(tree);
  const made = { ...tree, if_not_exists: 'if not exists' };
  if (!isNode(tree.like)) return [tablePiece('create table', [table], made)];
  const source = oneRef(tree.like.table);
  if (!source) return shapeReason(tree);
  // CREATE TABLE t (LIKE s) means CREATE TABLE t LIKE s, which is how sqlify renders it.
  const like = { ...tree.like };
  delete like.parentheses;
  return [tablePiece('create table', [table, source], { ...made, like })];
}

function createIndex(tree: Node): Piece[] | string {
  return isTableRefNode(tree.table) ? [tablePiece('create index', [tree.table], tree)] : shapeReason(tree);
}

function dropIndex(tree: Node): Piece[] | string {
  return isTableRefNode(tree.table) ? [tablePiece('drop index', [tree.table], tree)] : shapeReason(tree);
}

function refList(value: unknown): TableRefNode[] | undefined {
  return Array.isArray(value) && value.length > 0 && value.every(isTableRefNode) ? value : undefined;
}

function dropTables(tree: Node): Piece[] | string {
  const names = refList(tree.name);
  if (!names) return shapeReason(tree);
  return names.map((name) => tablePiece('drop table', [name], { ...tree, prefix: 'if exists', name: [name] }));
}

function truncateTables(tree: Node): Piece[] | string {
  const names = refList(tree.name);
  if (!names) return shapeReason(tree);
  return names.map((name) => tablePiece('truncate table', [name], { ...tree, name: [name] }));
}

function renameTables(tree: Node): Piece[] | string {
  const lists = Array.isArray(tree.table) ? tree.table.map(refList) : [];
  const pairs = lists.filter((list): list is TableRefNode[] => list?.length === 2);
  if (pairs.length === 0 || pairs.length !== lists.length) return shapeReason(tree);
  return pairs.map((pair) => tablePiece('rename table', pair, { ...tree, table: [pair] }));
}

const isTableRename = (action: Node) => action.action === 'rename' && action.resource === 'table';

/**
 * ALTER TABLE ... RENAME becomes a RENAME TABLE of its own, after the rest of the ALTER, so that
 * each statement belongs to one table's stream. Its new name, when unqualified, is in the default
 * schema, not the table's (as for RENAME TABLE).
 */
function alterTable(tree: Node, defaultSchema: string): Piece[] | string {
  const table = oneRef(tree.table);
  const actions = Array.isArray(tree.expr) ? tree.expr.filter(isNode) : [];
  if (!table || actions.length === 0) return shapeReason(tree);
  if (actions.some((action) => action.resource === 'partition')) return 'ALTER TABLE ... PARTITION maintenance is not replicated by dmq';
  const renames = actions.filter(isTableRename);
  const others = actions.filter((action) => !isTableRename(action));
  const pieces: Piece[] = [];
  if (others.length > 0)
    pieces.push(tablePiece('alter table', [table], { ...tree, expr: others }, [...new Set(others.flatMap(alterKindsOf))]));
  if (renames.length === 0) return pieces;
  const [rename] = renames;
  if (renames.length > 1 || typeof rename?.table !== 'string') return shapeReason(tree);
  if (defaultSchema === '') return `the new name ${nameOf(rename.table)} has no schema and the statement ran with no default schema`;
  const pair = [
    { db: table.db, table: table.table },
    { db: rawName(defaultSchema), table: rename.table },
  ];
  return [...pieces, tablePiece('rename table', pair, { type: 'rename', table: [pair] })];
}

/** The name of CREATE DATABASE, held as [{ type, value }] under `database` or `schema`. */
function createDatabase(tree: Node): Piece[] | string {
  const keyword = String(tree.keyword);
  const holder = tree[keyword];
  const names: unknown[] = isNode(holder) && Array.isArray(holder.schema) ? holder.schema : [];
  const [name] = names;
  if (!isNode(holder) || names.length !== 1 || !isNode(name) || typeof name.value !== 'string') return shapeReason(tree);
  const schema = nameOf(name.value);
  const target = (route: Route): Node => ({
    ...tree,
    if_not_exists: 'if not exists',
    // backquoted, so that any routed name renders as a name
    [keyword]: { ...holder, schema: [{ type: 'backticks_quote_string', value: rawName(route(schema, '').schema) }] },
  });
  return [{ kind: 'create database', tables: [{ schema, table: '' }], alterKinds: [], additive: false, target, rereadable: true }];
}

const DROP_DATABASE_KEYS = new Set(['type', 'keyword', 'prefix', 'name']);

/**
 * The parser cannot read a backquoted name after DROP DATABASE, so it cannot read back what sqlify
 * renders; the tree must hold nothing but the name, which leaves sqlify nothing to lose.
 */
function dropDatabase(tree: Node): Piece[] | string {
  if (typeof tree.name !== 'string' || Object.keys(tree).some((key) => !DROP_DATABASE_KEYS.has(key))) return shapeReason(tree);
  const schema = nameOf(tree.name);
  const target = (route: Route): Node => ({ ...tree, prefix: 'if exists', name: rawName(route(schema, '').schema) });
  return [{ kind: 'drop database', tables: [{ schema, table: '' }], alterKinds: [], additive: false, target, rereadable: false }];
}

const BUILDERS = new Map<string, (tree: Node, defaultSchema: string) => Piece[] | string>([
  ['create table', createTable],
  ['create index', createIndex],
  ['create database', createDatabase],
  ['create schema', createDatabase],
  ['drop table', dropTables],
  ['drop index', dropIndex],
  ['drop database', dropDatabase],
  ['drop schema', dropDatabase],
  ['truncate table', truncateTables],
  ['rename', renameTables],
  ['alter', alterTable],
]);

function piecesOf(tree: Node, defaultSchema: string): Piece[] | string {
  const what = [tree.type, tree.keyword]
    .filter((word) => typeof word === 'string')
    .join(' ')
    .toLowerCase();
  const build = BUILDERS.get(what);
  if (!build) return `${what.toUpperCase()} is not DDL that dmq replicates`;
  return resolveTableNames(tree, defaultSchema) ?? build(tree, defaultSchema);
}

type Rendered = { sql: string } | { reason: string };

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 160);

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
  return { type: 'unreadable', reason: failure.reason };
}
