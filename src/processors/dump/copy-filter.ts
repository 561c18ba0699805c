import type { Pool } from 'mysql2/promise';
import type { TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { describeExpression, expressionFiltersOf, insertExpressions, matchSql } from '../../shared/filter/expression.js';
import type { Logger } from '../../shared/logger.js';
import { qualify, tableLabel } from '../../shared/sql/quote.js';
import { isUnreachable } from '../../shared/sql/connect.js';
import { ER, TRANSIENT, isServerError, serverErrno } from '../../shared/sql/server-errors.js';

/**
 * The rows a copy brings are inserts, so the table's insert-value-exprs leave rows out of the
 * copy too: the chunk's SELECT on the source keeps only the rows none of them matches. Each is
 * tried on the table first: one naming a column the table lacks never matches (as in DM), and
 * one the source refuses stops the task, naming it.
 */
export async function copyFilterCondition(
  pool: Pool,
  task: TaskConfig,
  ref: { sourceId: string; schema: string; table: string },
  log: Logger,
): Promise<string | undefined> {
  const instance = task.instances.find((i) => i.sourceId === ref.sourceId);
  const expressions = insertExpressions(expressionFiltersOf(instance?.expressionFilters ?? [], ref.schema, ref.table));
  const conditions: string[] = [];
  for (const e of expressions) {
    try {
      await pool.query(`SELECT ${matchSql(e.sql)} FROM ${qualify(ref.schema, ref.table)} LIMIT 0`);
      conditions.push(`NOT ${matchSql(e.sql)}`);
    } catch (err) {
      if (serverErrno(err) === undefined || isUnreachable(err) || isServerError(err, TRANSIENT)) throw err;
      const what = describeExpression(e, tableLabel(ref));
      if (serverErrno(err) !== ER.BAD_FIELD_ERROR) {
        throw new DmqError('EXPRESSION_FILTER_FAILED', `source "${ref.sourceId}" cannot evaluate ${what}: ${(err as Error).message}`, {
          cause: err,
          where: `expression-filter.${e.filter}.${e.field}`,
          workaround:
            'fix the expression so that the source server accepts it (stop-task, edit task.yaml, start-task); `dmq check-task` tries it first',
        });
      }
      log.warn(
        { task: task.name, source: ref.sourceId, filter: e.filter, expression: e.sql, err: (err as Error).message },
        `${what} names a column the table does not have: it never matches (as in DM)`,
      );
    }
  }
  return conditions.length > 0 ? conditions.join(' AND ') : undefined;
}
