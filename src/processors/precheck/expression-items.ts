import type { RowDataPacket } from 'mysql2/promise';
import type { ExpressionFilter, TableRef, TaskConfig } from '../../shared/config/types.js';
import { allExpressions, describeExpression, matchSql, type NamedExpression } from '../../shared/filter/expression.js';
import { withConnection, type Queryable } from '../../shared/sql/connect.js';
import { SOURCE_SESSION, TARGET_SESSION } from '../../shared/sql/pools.js';
import { qualify, quoteId, tableLabel } from '../../shared/sql/quote.js';
import { ER, serverErrno } from '../../shared/sql/server-errors.js';
import type { CheckError } from '../../shared/task/precheck-result.js';
import { capped, fail, warn, type Item } from './check.js';
import type { SourceContext } from './items.js';
import type { TargetContext } from './target-items.js';

/**
 * Not a DM item (DM parses the expressions when the task is submitted and evaluates them with
 * TiDB's code): dmq has the servers that evaluate them try each. The source runs the
 * insert-value-exprs in the copy's SELECT; the target evaluates every expression in sync.
 */

const NAME = 'expression_filter';

/** A server's refusal of one expression: unknown columns are a warning (the filter never matches, as in DM). */
async function tryExpression(
  db: Queryable,
  sql: string,
  e: NamedExpression,
  table: string,
  server: string,
): Promise<CheckError | undefined> {
  try {
    await db.query(sql);
    return undefined;
  } catch (err) {
    const what = describeExpression(e, table);
    const reason = (err as Error).message;
    if (serverErrno(err) === ER.BAD_FIELD_ERROR)
      return warn(`${what} names a column the table does not have: it never matches, as in DM (${reason})`);
    return fail(`the ${server} refuses ${what}: ${reason}`);
  }
}

async function tableExists(db: Queryable, ref: TableRef): Promise<boolean> {
  const [rows] = await db.query<RowDataPacket[]>('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [
    ref.schema,
    ref.table,
  ]);
  return rows.length > 0;
}

const same = (f: ExpressionFilter, t: TableRef) => f.schema === t.schema && f.table === t.table;

const hasFilters = (task: TaskConfig) => task.instances.some((i) => i.expressionFilters.length > 0);

const INSTRUCTION =
  'fix the expressions named: each is one SQL expression over the columns of its table, run by the source in the copy and by the target in sync';

export const sourceExpressionFilter: Item<SourceContext> = {
  name: NAME,
  desc: 'the source accepts the expression filters on their tables',
  severity: 'fail',
  needed: hasFilters,
  async run({ task, instance, source, facts }) {
    if (instance.expressionFilters.length === 0) return { errors: [] };
    const migrated = await facts.tables();
    const label = `source ${JSON.stringify(instance.sourceId)}`;
    const errors: CheckError[] = [];
    // The dump's session: its sql_mode decides how the expressions read (ANSI_QUOTES, ...).
    const options = { label, role: 'source' as const, session: SOURCE_SESSION, timeZone: task.timezone };
    await withConnection(source.from, options, async (conn) => {
      for (const f of instance.expressionFilters) {
        const table = tableLabel(f);
        if (!migrated.some((t) => same(f, t))) {
          errors.push(
            warn(
              (await tableExists(conn, f))
                ? `expression filter "${f.name}": the task does not migrate ${table}, so the filter has nothing to act on`
                : `expression filter "${f.name}": ${table} does not exist on the source; its expressions are tried when its rows arrive`,
            ),
          );
          continue;
        }
        for (const e of allExpressions([f])) {
          const refused = await tryExpression(
            conn,
            `SELECT ${matchSql(e.sql)} FROM ${qualify(f.schema, f.table)} LIMIT 0`,
            e,
            table,
            'source',
          );
          if (refused) errors.push(refused);
        }
      }
    });
    return errors.length === 0 ? { errors } : { errors: capped(errors), instruction: INSTRUCTION };
  },
};

export const targetExpressionFilter: Item<TargetContext> = {
  name: NAME,
  desc: "the target accepts the expression filters over the source tables' columns",
  severity: 'fail',
  needed: hasFilters,
  async run({ task, tables }) {
    const filters = task.instances.flatMap((i) => i.expressionFilters);
    const known = await tables();
    const errors: CheckError[] = [];
    const options = {
      label: 'target',
      role: 'target' as const,
      session: { ...TARGET_SESSION, ...task.target.session },
      timeZone: task.timezone,
    };
    await withConnection(task.target, options, async (conn) => {
      for (const f of filters) {
        // A table the sources lack is reported by the source's check.
        const columns = known.find((t) => same(f, t))?.columns;
        if (!columns) continue;
        const values = `SELECT ${columns.map((c) => `NULL AS ${quoteId(c.name)}`).join(', ')}`;
        for (const e of allExpressions([f])) {
          const refused = await tryExpression(
            conn,
            `SELECT ${matchSql(e.sql)} FROM (${values}) AS dmq_filtered_rows LIMIT 0`,
            e,
            tableLabel(f),
            'target',
          );
          // An unknown column is the source check's to report.
          if (refused?.severity === 'fail') errors.push(refused);
        }
      }
    });
    return errors.length === 0 ? { errors } : { errors: capped(errors), instruction: INSTRUCTION };
  },
};
