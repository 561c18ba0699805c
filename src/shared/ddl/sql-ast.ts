import { isDeepStrictEqual } from 'node:util';
import pkg from 'node-sql-parser';

/**
 * node-sql-parser, seen as plain data: statements parse into JSON-like trees (Node) and sqlify
 * renders them back. Its grammars differ: the MySQL one reads more ALTER TABLE forms, the MariaDB
 * one some MariaDB syntax (ADD COLUMN IF NOT EXISTS) and renders some statements more faithfully,
 * so readDdl tries them in this order.
 */

const { Parser } = pkg;
const parser = new Parser();

export type Dialect = 'MySQL' | 'MariaDB';
export const DIALECTS: readonly Dialect[] = ['MySQL', 'MariaDB'];

export type Node = Record<string, unknown>;

export const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The statements of `sql`; throws the parser's error when it cannot read it. */
export function parseStatements(sql: string, dialect: Dialect): Node[] {
  const { ast } = parser.parse(sql, { database: dialect });
  const statements: unknown[] = Array.isArray(ast) ? ast : [ast];
  return statements.filter(isNode);
}

export function sqlify(statement: Node, dialect: Dialect): string {
  const tree = charsetWithType(structuredClone(statement)) as Node;
  return parser.sqlify(tree as unknown as Parameters<typeof parser.sqlify>[0], { database: dialect });
}

/**
 * The parser renders a column's CHARACTER SET and COLLATE after its other attributes
 * (`VARCHAR(20) DEFAULT 'x' CHARACTER SET latin1`), where MySQL and MariaDB accept them only
 * right after the type; as the type's suffix they come out there. The tree it reads back from
 * that text is the one it was given.
 */
function charsetWithType(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(charsetWithType);
  if (!isNode(value)) return value;
  for (const key of Object.keys(value)) value[key] = charsetWithType(value[key]);
  const definition = value.definition;
  if (value.resource !== 'column' || !isNode(definition)) return value;
  const suffix: string[] = Array.isArray(definition.suffix) ? [...(definition.suffix as string[])] : [];
  const charset = value.character_set;
  if (isNode(charset) && isNode(charset.value) && typeof charset.value.value === 'string') {
    suffix.push(`CHARACTER SET ${charset.value.value}`);
    delete value.character_set;
  }
  const collate = value.collate;
  if (isNode(collate) && isNode(collate.collate) && typeof collate.collate.name === 'string') {
    suffix.push(`COLLATE ${collate.collate.name}`);
    delete value.collate;
  }
  if (suffix.length > 0) definition.suffix = suffix;
  return value;
}

/** The parser's error, shortened: its "Expected ..." lists every token it would have taken. */
export function parseErrorReason(error: unknown, sql: string): string {
  const offset = (error as { location?: { start?: { offset?: number } } }).location?.start?.offset;
  if (typeof offset === 'number') {
    const near = sql.slice(offset, offset + 40).replace(/\s+/g, ' ');
    return near === '' ? 'the parser cannot read it: it ends too early' : `the parser cannot read it from "${near}"`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `the parser cannot read it: ${message.slice(0, 160)}`;
}

// Values the parser keeps in the case they were written but renders in upper case.
const KEYWORD_KEYS = new Set(['keyword', 'constraint_type', 'algorithm', 'lock', 'prefix', 'if_not_exists']);
// A bare or backquoted name, which the parser sometimes keeps as a plain string instead.
const NAME_TYPES = new Set(['backticks_quote_string', 'default']);

function canonical(statement: Node): unknown {
  return JSON.parse(
    JSON.stringify(statement, (key, value: unknown) => {
      if (key === 'loc') return undefined;
      if (KEYWORD_KEYS.has(key) && typeof value === 'string') return value.toLowerCase();
      if (isNode(value) && NAME_TYPES.has(String(value.type)) && typeof value.value === 'string' && Object.keys(value).length === 2) {
        return value.value;
      }
      return value;
    }),
  );
}

/** Whether two trees say the same, ignoring locations, keyword case and how names were quoted. */
export function sameStatement(a: Node, b: Node): boolean {
  return isDeepStrictEqual(canonical(a), canonical(b));
}

/** A table name in a tree (`db` null when unqualified), as the parser writes it. */
export interface TableRefNode extends Node {
  db: string | null;
  table: string;
}

export const isTableRefNode = (value: unknown): value is TableRefNode =>
  isNode(value) && 'db' in value && (value.db === null || typeof value.db === 'string') && typeof value.table === 'string';

/** Every table name in the tree, wherever it sits (the table itself, LIKE, REFERENCES ...). */
export function tableRefNodes(tree: unknown): TableRefNode[] {
  if (isTableRefNode(tree)) return [tree];
  if (Array.isArray(tree)) return tree.flatMap(tableRefNodes);
  if (isNode(tree)) return Object.values(tree).flatMap(tableRefNodes);
  return [];
}

/** Every value kept under `key`, at any depth. */
export function valuesAt(tree: unknown, key: string): unknown[] {
  if (Array.isArray(tree)) return tree.flatMap((item) => valuesAt(item, key));
  if (!isNode(tree)) return [];
  return Object.entries(tree).flatMap(([k, value]) => (k === key ? [value] : valuesAt(value, key)));
}

/** The single table name of a list such as `table` or `name`. */
export function oneRef(value: unknown): TableRefNode | undefined {
  return Array.isArray(value) && value.length === 1 && isTableRefNode(value[0]) ? value[0] : undefined;
}

// The parser keeps a backquoted name's inner text as written (`a``b` stays a``b) and sqlify wraps
// it in backquotes without escaping, so names go in and out of trees through these two.
export const nameOf = (raw: string) => raw.split('``').join('`');
export const rawName = (name: string) => name.split('`').join('``');
