import type { RE2JS } from 're2js';
import type { TableRef, TaskConfig } from '../config/types.js';
import type { TableFilter } from './block-allow.js';
import { compileRegExp } from './pattern.js';

/**
 * gh-ost and pt-online-schema-change alter a copy of a table (the shadow or ghost table, `_t_gho`,
 * `_t_new`), fill it, and swap it in with a RENAME that leaves the old table under a trash name
 * (`_t_del`, `_t_old`; gh-ost's changelog `_t_ghc` too). As in DM, with `online-ddl` those tables
 * are told by their names alone (`shadow-table-rules`, `trash-table-rules`, regular expressions
 * whose first group is the real table's name).
 */

/** DM's defaults (dm/config/task.go). */
export const DEFAULT_SHADOW_TABLE_RULES = ['^_(.+)_(?:new|gho)$'];
export const DEFAULT_TRASH_TABLE_RULES = ['^_(.+)_(?:ghc|del|old)$'];

export type TableRole = { role: 'real' } | { role: 'shadow' | 'trash'; real: TableRef };

export interface OnlineDdlRules {
  /** What a table is to the online-schema-change tools, and the table it shadows or was. */
  roleOf(ref: TableRef): TableRole;
}

const REAL: TableRole = { role: 'real' };

/** The rules of a task; undefined when `online-ddl` is off (shadow tables are tables like any other). */
export function onlineDdlRules(task: Pick<TaskConfig, 'onlineDdl' | 'shadowTableRules' | 'trashTableRules'>): OnlineDdlRules | undefined {
  if (!task.onlineDdl) return undefined;
  const compile = (sources: string[]) => sources.map((source) => compileRegExp(source, { ignoreCase: false }, source));
  const shadow = compile(task.shadowTableRules);
  const trash = compile(task.trashTableRules);
  // As DM's RealName: group 1 of the first rule that matches.
  const realName = (rules: RE2JS[], table: string) => {
    for (const re of rules) {
      const match = re.exec(table);
      if (match) return String(match[1] ?? table);
    }
    return undefined;
  };
  return {
    roleOf(ref) {
      const shadowOf = realName(shadow, ref.table);
      if (shadowOf !== undefined) return { role: 'shadow', real: { schema: ref.schema, table: shadowOf } };
      const trashOf = realName(trash, ref.table);
      if (trashOf !== undefined) return { role: 'trash', real: { schema: ref.schema, table: trashOf } };
      return REAL;
    },
  };
}

/** A rule's problem for task.yaml's check: it does not compile, or names no group for the real table. */
export function onlineDdlRuleProblem(source: string): string | undefined {
  let re: RE2JS;
  try {
    re = compileRegExp(source, { ignoreCase: false }, source);
  } catch (err) {
    return (err as Error).message;
  }
  return re.groupCount() < 1
    ? `${JSON.stringify(source)} has no group: its first group must capture the name of the real table (as in the default ${JSON.stringify(DEFAULT_SHADOW_TABLE_RULES[0])})`
    : undefined;
}

/**
 * The block-allow list without the shadow and trash tables: their rows are never copied nor
 * replicated (the target gets the change when the tool swaps the shadow table in).
 */
export function withoutOnlineDdlTables(filter: TableFilter, rules: OnlineDdlRules | undefined): TableFilter {
  if (!rules) return filter;
  return {
    schema: filter.schema,
    table: (schema, table) => rules.roleOf({ schema, table }).role === 'real' && filter.table(schema, table),
  };
}
