import type { TableRef } from '../config/types.js';
import { isAdditive } from './additive.js';
import { alterKindsOf } from './alter-kinds.js';
import { isNode, isTableRefNode, nameOf, type Node, oneRef, rawName, tableRefNodes, type TableRefNode, valuesAt } from './sql-ast.js';

/**
 * The statements node-sql-parser read, taken apart into pieces dmq can replicate: one per table
 * stream, with its kind (DM's event names), its tables and the tree to render under a route.
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

export type Route = (schema: string, table: string) => TableRef;

/** One statement for one table's stream, before routing. */
export interface Piece {
  kind: DdlKind;
  tables: TableRef[];
  alterKinds: string[];
  additive: boolean;
  /** The tree to render for the target under a route. */
  target: (route: Route) => Node;
  /** Whether the parser can read back what it renders (it cannot after DROP DATABASE). */
  rereadable: boolean;
}

export const sameNames: Route = (schema, table) => ({ schema, table });

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

export function piecesOf(tree: Node, defaultSchema: string): Piece[] | string {
  const what = [tree.type, tree.keyword]
    .filter((word) => typeof word === 'string')
    .join(' ')
    .toLowerCase();
  const build = BUILDERS.get(what);
  if (!build) return `${what.toUpperCase()} is not DDL that dmq replicates`;
  return resolveTableNames(tree, defaultSchema) ?? build(tree, defaultSchema);
}
