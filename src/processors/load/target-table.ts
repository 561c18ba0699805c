import { adaptDefinition } from '../../shared/ddl/target-dialect.js';
import { createSchemaIfMissing } from '../../shared/sql/target-schema.js';
import { targetDialect } from '../../shared/sql/target-facts.js';
import type { Pool } from 'mysql2/promise';
import type { TableRef } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { qualify, quoteId, tableLabel } from '../../shared/sql/quote.js';

/**
 * The source's CREATE TABLE, renamed to its routed target and made idempotent, with the
 * columns the route's extract-table/-schema/-source fill first. SHOW CREATE TABLE always starts
 * with `CREATE TABLE \`name\` (`, so only that head is replaced.
 */
export function targetCreateSql(createSql: string, target: TableRef, extraColumns: string[] = []): string {
  const head = /^CREATE TABLE `(?:[^`]|``)+` \(/;
  if (!head.test(createSql)) {
    throw new DmqError('LOAD_FAILED', `unexpected table definition for ${tableLabel(target)}: ${createSql.slice(0, 80)}`, {
      where: tableLabel(target),
      workaround: 'create the target table by hand with a compatible definition and resume the task',
    });
  }
  // A function, not a string: `$` in a table name must not act as a replacement pattern.
  const extra = extraColumns.map((c) => `\n  ${quoteId(c)} VARCHAR(255) NOT NULL DEFAULT '',`).join('');
  return createSql.replace(head, () => `CREATE TABLE IF NOT EXISTS ${qualify(target.schema, target.table)} (${extra}`);
}

/**
 * Per pool: tables ensured or being ensured, so the chunk loads of one table run its DDL once,
 * even when they start together. A removed task's pools are closed, so a task submitted again
 * under the same name ensures its tables anew.
 */
const ensured = new WeakMap<Pool, Map<string, Promise<string[]>>>();

/**
 * Creates the target table unless this process did already, in the target's dialect (see
 * adaptDefinition). The first caller gets what had to change for the target, for the log.
 */
export async function ensureTargetTable(
  pool: Pool,
  task: string,
  target: TableRef,
  createSql: string,
  extraColumns: string[],
): Promise<string[]> {
  const key = JSON.stringify([task, target.schema, target.table]);
  const tables = ensured.get(pool) ?? new Map<string, Promise<string[]>>();
  ensured.set(pool, tables);
  const running = tables.get(key);
  if (running) return running.then(() => []);
  const creating = createTargetTable(pool, target, targetCreateSql(createSql, target, extraColumns));
  tables.set(key, creating);
  // A failed attempt is not remembered: the load's retry tries again.
  creating.catch(() => tables.delete(key));
  return creating;
}

async function createTargetTable(pool: Pool, target: TableRef, createSql: string): Promise<string[]> {
  const dialect = await targetDialect(pool);
  const adapted = adaptDefinition(createSql, dialect);
  if (!adapted.ok) {
    throw new DmqError(
      'TARGET_UNSUPPORTED',
      `${tableLabel(target)} cannot be created on the target (${dialect.version}): ${adapted.reason}`,
      {
        where: tableLabel(target),
        workaround: adapted.workaround,
      },
    );
  }
  try {
    await pool.query(createSchemaIfMissing(target.schema));
    await pool.query(adapted.sql);
  } catch (err) {
    if (err instanceof DmqError) throw err;
    throw new DmqError('LOAD_FAILED', `cannot create ${tableLabel(target)} on the target: ${(err as Error).message}`, {
      cause: err,
      where: tableLabel(target),
      workaround: 'create the table on the target by hand (a definition the target accepts) and resume the task',
    });
  }
  return adapted.changes;
}
