import type { ExpressionFilter } from '../config/types.js';
import { lex } from '../ddl/sql-lexer.js';

/**
 * DM's expression filters (`expression-filter` in task.yaml): which of them apply to a table,
 * and the SQL that asks a server whether a row matches. The expressions are the user's SQL, so
 * dmq only makes sure that each stays one expression inside the parentheses it is put in.
 */

export type ExpressionField = 'insert-value-expr' | 'update-old-value-expr' | 'update-new-value-expr' | 'delete-value-expr';

/** One expression of a filter, named for messages. */
export interface NamedExpression {
  filter: string;
  field: ExpressionField;
  sql: string;
}

/**
 * Why `sql` cannot be used as one expression, or undefined. A `;` outside a string would start
 * another statement, and an unbalanced parenthesis would close the one dmq wraps it in. A `;`
 * inside a string with a backslash is refused too: under NO_BACKSLASH_ESCAPES that string may
 * end earlier than it seems to.
 */
export function expressionProblem(sql: string): string | undefined {
  const { tokens } = lex(sql);
  if (tokens.length === 0) return 'holds no expression';
  let depth = 0;
  for (const token of tokens) {
    if (token.kind === 'punct' && token.text === ';') return 'holds a ";": it must be one SQL expression, not statements';
    if (token.kind === 'string' && token.text.includes(';') && token.text.includes('\\')) {
      return 'holds a string with both ";" and a backslash; write the ";" as CHAR(59)';
    }
    if (token.kind === 'punct' && token.text === '(') depth += 1;
    if (token.kind === 'punct' && token.text === ')') depth -= 1;
    if (depth < 0) return 'closes a parenthesis it did not open';
  }
  return depth > 0 ? 'leaves a parenthesis open' : undefined;
}

/**
 * Whether the row matches, as 1 or 0, never NULL: DM leaves a row out when the expression
 * evaluates to exactly 1. The line breaks end a trailing `--` or `#` comment of the expression.
 */
export function matchSql(sql: string): string {
  return `((\n${sql}\n) <=> 1)`;
}

/** The filters of an instance that name this source table (exact names, as DM compares them). */
export function expressionFiltersOf(filters: readonly ExpressionFilter[], schema: string, table: string): ExpressionFilter[] {
  return filters.filter((f) => f.schema === schema && f.table === table);
}

/** The insert-value-expr of each filter that has one: rows matching any of them are not inserted. */
export function insertExpressions(filters: readonly ExpressionFilter[]): NamedExpression[] {
  return filters.flatMap((f) =>
    f.insertValueExpr ? [{ filter: f.name, field: 'insert-value-expr' as const, sql: f.insertValueExpr }] : [],
  );
}

/** The delete-value-expr of each filter that has one: rows matching any of them are not deleted. */
export function deleteExpressions(filters: readonly ExpressionFilter[]): NamedExpression[] {
  return filters.flatMap((f) =>
    f.deleteValueExpr ? [{ filter: f.name, field: 'delete-value-expr' as const, sql: f.deleteValueExpr }] : [],
  );
}

/**
 * The update filters: an update is not applied when, for one of them, the old values match its
 * old-value expression and the new values its new-value expression; a side it lacks matches.
 */
export function updateExpressions(filters: readonly ExpressionFilter[]): { old?: NamedExpression; new?: NamedExpression }[] {
  return filters
    .filter((f) => f.updateOldValueExpr || f.updateNewValueExpr)
    .map((f) => ({
      ...(f.updateOldValueExpr ? { old: { filter: f.name, field: 'update-old-value-expr' as const, sql: f.updateOldValueExpr } } : {}),
      ...(f.updateNewValueExpr ? { new: { filter: f.name, field: 'update-new-value-expr' as const, sql: f.updateNewValueExpr } } : {}),
    }));
}

/** Every expression of the filters, for checking them all. */
export function allExpressions(filters: readonly ExpressionFilter[]): NamedExpression[] {
  return [
    ...insertExpressions(filters),
    ...updateExpressions(filters).flatMap((u) => [u.old, u.new].filter((e): e is NamedExpression => e !== undefined)),
    ...deleteExpressions(filters),
  ];
}

/**
 * The columns an expression may name: those whose name occurs in its text, ignoring case as
 * MySQL does for column names. A superset (a name inside a string counts too), which is all
 * that is needed to leave the other columns' values out of what is sent.
 */
export function mentionedColumns(sql: readonly string[], columns: readonly string[]): string[] {
  const text = sql.join('\n').toLowerCase();
  return columns.filter((c) => text.includes(c.toLowerCase()));
}

/** How messages name an expression, e.g. expression filter "x" (insert-value-expr "c > 1") on `s`.`t`. */
export function describeExpression(e: NamedExpression, table: string): string {
  return `expression filter "${e.filter}" (${e.field} ${JSON.stringify(e.sql)}) on ${table}`;
}
