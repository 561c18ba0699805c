import type { Pool, RowDataPacket } from 'mysql2/promise';
import type { Queryable } from './connect.js';
import type { TargetDialect } from '../ddl/target-dialect.js';

/** Per pool, so a task's target is asked once per process; a failed read is asked again. */
const dialects = new WeakMap<Pool, Promise<TargetDialect>>();

/** What kind of server the target is (its VERSION() names TiDB or MariaDB) and which collations it has. */
export function targetDialect(pool: Pool): Promise<TargetDialect> {
  let dialect = dialects.get(pool);
  if (!dialect) {
    dialect = readDialect(pool);
    dialects.set(pool, dialect);
    dialect.catch(() => dialects.delete(pool));
  }
  return dialect;
}

/** The same, read over any connection (the precheck has one of its own). */
export async function readDialect(db: Queryable): Promise<TargetDialect> {
  const [[version]] = await db.query<RowDataPacket[]>('SELECT VERSION() AS v');
  const text = String(version?.v ?? '');
  const [collations] = await db.query<RowDataPacket[]>('SHOW COLLATION');
  const [charsets] = await db.query<RowDataPacket[]>('SHOW CHARACTER SET');
  return {
    kind: /tidb/i.test(text) ? 'tidb' : /mariadb/i.test(text) ? 'mariadb' : 'mysql',
    version: text,
    collations: new Map(collations.map((r) => [String(r.Collation).toLowerCase(), String(r.Charset).toLowerCase()])),
    charsetDefaults: new Map(charsets.map((r) => [String(r.Charset).toLowerCase(), String(r['Default collation']).toLowerCase()])),
  };
}
