import { formatOnlyWithValues } from './connect.js';

/** A statement with its values, to be run alone or as part of a script. */
export interface SqlStatement {
  sql: string;
  values: unknown[];
}

export function formatStatement(statement: SqlStatement): string {
  return formatOnlyWithValues(statement.sql, statement.values);
}

/**
 * Joins statements into multi-statement scripts of at most `maxChars` each (a longer
 * statement goes alone), so a run of small statements costs one round trip instead of one
 * each. The server stops a script at its first failing statement.
 */
export function joinIntoScripts(statements: SqlStatement[], maxChars: number): string[] {
  const scripts: string[] = [];
  let parts: string[] = [];
  let chars = 0;
  for (const statement of statements) {
    const text = formatStatement(statement);
    if (parts.length > 0 && chars + text.length + 1 > maxChars) {
      scripts.push(parts.join(';\n'));
      parts = [];
      chars = 0;
    }
    parts.push(text);
    chars += text.length + 1;
  }
  if (parts.length > 0) scripts.push(parts.join(';\n'));
  return scripts;
}
