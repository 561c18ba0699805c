import type { RouteRule, TableRef } from '../config/types.js';
import { DmqError } from '../errors.js';
import { quoteId, tableLabel } from '../sql/quote.js';
import { compilePattern, compileRegExp, type NameMatcher } from './pattern.js';

/**
 * DM's table router. Rules with a table-pattern ("table rules") rename schema and table;
 * rules without one ("schema rules") rename the schema and keep the table name. A table rule
 * that matches wins over schema rules; two matching rules of the same kind are an error (DM
 * refuses to guess). An empty target-schema / absent target-table keeps the source name, as
 * in DM. Schema-level statements route with table ''.
 */

interface CompiledRoute {
  rule: RouteRule;
  schema: NameMatcher;
  table: NameMatcher | undefined;
}

function compileRoutes(rules: RouteRule[], caseSensitive: boolean): CompiledRoute[] {
  return rules.map((rule) => ({
    rule,
    schema: compilePattern(rule.schemaPattern, caseSensitive),
    table: rule.tablePattern === undefined ? undefined : compilePattern(rule.tablePattern, caseSensitive),
  }));
}

function conflict(kind: 'table' | 'schema', matched: CompiledRoute[], schema: string, table: string): DmqError {
  const names = matched.map((m) => JSON.stringify(m.rule.name)).join(', ');
  const what = table === '' ? `schema ${quoteId(schema)}` : `table ${tableLabel({ schema, table })}`;
  return new DmqError('CONFIG_INVALID', `${what} matches ${matched.length} ${kind} route rules (${names}); it may match only one`, {
    where: matched.map((m) => `routes.${m.rule.name}`).join(', '),
    workaround: 'narrow the schema-pattern/table-pattern of these rules so that each table matches one of them',
  });
}

function selectRoute(routes: CompiledRoute[], schema: string, table: string): CompiledRoute | undefined {
  if (table !== '') {
    const tableRules = routes.filter((r) => r.table !== undefined && r.schema(schema) && r.table(table));
    if (tableRules.length > 1) throw conflict('table', tableRules, schema, table);
    if (tableRules.length === 1) return tableRules[0];
  }
  const schemaRules = routes.filter((r) => r.table === undefined && r.schema(schema));
  if (schemaRules.length > 1) throw conflict('schema', schemaRules, schema, table);
  return schemaRules[0];
}

/** Throws DmqError CONFIG_INVALID when a table matches two rules of the same kind. */
export function makeRouter(rules: RouteRule[], caseSensitive: boolean): (schema: string, table: string) => TableRef {
  const routes = compileRoutes(rules, caseSensitive);
  return (schema, table) => {
    const rule = selectRoute(routes, schema, table)?.rule;
    if (!rule) return { schema, table };
    return { schema: rule.targetSchema || schema, table: rule.targetTable || table };
  };
}

/**
 * The extra columns (extract-table, extract-schema, extract-source, in that order, as DM)
 * that the rule routing a table adds to the merged target row. Each value is, as in DM,
 * every capture group of the regexp's first match concatenated (`t_(\d+)_(\d+)` on `t_1_2`
 * gives `12`), and '' when the regexp does not match. Unless case-sensitive, the regexps
 * ignore case like the name patterns do. Rules and regexps are compiled once; the values
 * depend only on the table, so compute them once per table rather than per row.
 */
export function makeExtractor(
  rules: RouteRule[],
  caseSensitive: boolean,
): (sourceId: string, schema: string, table: string) => { column: string; value: string }[] {
  const routes = compileRoutes(rules, caseSensitive);
  const extract = (targetColumn: string, regexp: string, name: string) => {
    const match = compileRegExp(regexp, { ignoreCase: !caseSensitive }, regexp).exec(name);
    return {
      column: targetColumn,
      value: match
        ? match
            .slice(1)
            .map((group: string | null | undefined) => group ?? '')
            .join('')
        : '',
    };
  };
  return (sourceId, schema, table) => {
    const rule = selectRoute(routes, schema, table)?.rule;
    if (!rule) return [];
    const columns: { column: string; value: string }[] = [];
    if (rule.extractTable) columns.push(extract(rule.extractTable.targetColumn, rule.extractTable.tableRegexp, table));
    if (rule.extractSchema) columns.push(extract(rule.extractSchema.targetColumn, rule.extractSchema.schemaRegexp, schema));
    if (rule.extractSource) columns.push(extract(rule.extractSource.targetColumn, rule.extractSource.sourceRegexp, sourceId));
    return columns;
  };
}
