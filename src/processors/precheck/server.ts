import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { TableRef } from '../../shared/config/types.js';
import { showMasterStatus } from '../../shared/sql/binlog-status.js';
import { quoteId } from '../../shared/sql/quote.js';
import { parseGrants, parseRoleList, type ParsedGrants } from './grants.js';

export type Flavor = 'mysql' | 'mariadb' | 'aurora' | 'tidb';

export interface ServerVersion {
  flavor: Flavor;
  /** As the server reports it, e.g. `8.0.28`, `10.11.6-MariaDB-log`; Aurora adds its own release. */
  text: string;
  major: number;
  minor: number;
  /** Aurora's own release (`3.04.0`), on Aurora. */
  aurora?: string;
}

/** `auroraFunction`: what `SELECT aurora_version()` answered, when the server has the function. */
export function serverVersion(variables: Map<string, string>, auroraFunction?: string): ServerVersion {
  const version = variables.get('version') ?? '';
  const aurora = auroraFunction ?? variables.get('aurora_version');
  const [, major = '0', minor = '0'] = /^(\d+)\.(\d+)/.exec(version) ?? [];
  const flavor: Flavor = /mariadb/i.test(version) ? 'mariadb' : /tidb/i.test(version) ? 'tidb' : aurora !== undefined ? 'aurora' : 'mysql';
  const text = aurora !== undefined ? `${version} (Aurora ${aurora})` : version;
  return { flavor, text, major: Number(major), minor: Number(minor), ...(aurora !== undefined ? { aurora } : {}) };
}

/** Aurora's release, or undefined on any other server (which has no such function). */
export async function readAuroraVersion(conn: Connection): Promise<string | undefined> {
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT AURORA_VERSION() AS v');
    return rows[0]?.v === null || rows[0]?.v === undefined ? undefined : String(rows[0].v);
  } catch {
    return undefined;
  }
}

/**
 * `binlog retention hours` of an Aurora or RDS server (null: not set), or undefined on a server
 * without `mysql.rds_show_configuration`; on Aurora, why it could not be read.
 */
export async function readRdsRetention(
  conn: Connection,
  aurora: boolean,
): Promise<{ hours: number | null } | { unreadable: string } | undefined> {
  try {
    const [result] = await conn.query<RowDataPacket[][]>('CALL mysql.rds_show_configuration');
    const rows = Array.isArray(result[0]) ? result[0] : (result as unknown as RowDataPacket[]);
    const row = rows.find((r) => String(r.name).toLowerCase() === 'binlog retention hours');
    if (!row) return aurora ? { unreadable: 'mysql.rds_show_configuration lists no binlog retention hours' } : undefined;
    return {
      hours: row.value === null || row.value === undefined || String(row.value).toUpperCase() === 'NULL' ? null : Number(row.value),
    };
  } catch (err) {
    return aurora ? { unreadable: (err as Error).message } : undefined;
  }
}

/** The bytes of row data in `tables` (information_schema's estimate), what the copy moves. */
export async function readDataBytes(conn: Connection, tables: TableRef[]): Promise<number> {
  if (tables.length === 0) return 0;
  const wanted = new Set(tables.map((t) => `${t.schema}\u0000${t.table}`));
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, DATA_LENGTH AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?)',
    [[...new Set(tables.map((t) => t.schema))]],
  );
  return rows.filter((r) => wanted.has(`${String(r.s)}\u0000${String(r.t)}`)).reduce((sum, r) => sum + Number(r.n ?? 0), 0);
}

/** Global variables by lower-case name; a variable the server lacks is simply absent. */
export async function readVariables(conn: Connection, names: string[]): Promise<Map<string, string>> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL VARIABLES WHERE Variable_name IN (?)', [names]);
  return new Map(rows.map((r) => [String(r.Variable_name).toLowerCase(), String(r.Value)]));
}

/** Which of `names` the server has as session variables (lower-cased). */
export async function readSessionVariableNames(conn: Connection, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const [rows] = await conn.query<RowDataPacket[]>('SHOW SESSION VARIABLES WHERE Variable_name IN (?)', [names]);
  return new Set(rows.map((r) => String(r.Variable_name).toLowerCase()));
}

export async function readStatusNumber(conn: Connection, name: string): Promise<number | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>('SHOW GLOBAL STATUS WHERE Variable_name = ?', [name]);
  return rows[0] === undefined ? undefined : Number(rows[0].Value);
}

export interface SessionGrants extends ParsedGrants {
  /** `'dm'@'%'`, ready to paste into the GRANT statement a message suggests. */
  account: string;
  /** Why the privileges shown may be incomplete, for the check's extra text. */
  notes: string[];
}

async function showGrants(conn: Connection, sql: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(sql);
  return rows.map((r) => String(Object.values(r)[0]));
}

function accountText(currentUser: string): string {
  const at = currentUser.lastIndexOf('@');
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  return at === -1 ? quote(currentUser) : `${quote(currentUser.slice(0, at))}@${quote(currentUser.slice(at + 1))}`;
}

/**
 * The privileges of this session. MariaDB's SHOW GRANTS already includes the active role's grants;
 * MySQL 8 and TiDB list role grants only by name, so their active roles are expanded with USING.
 */
export async function readSessionGrants(conn: Connection, flavor: Flavor): Promise<SessionGrants> {
  const [userRows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS u');
  const account = accountText(String(userRows[0]?.u ?? ''));
  const lines = await showGrants(conn, 'SHOW GRANTS');
  const parsed = parseGrants(lines);
  const notes: string[] = [];
  if (parsed.roles.length === 0 || flavor === 'mariadb') return { ...parsed, account, notes };

  try {
    const [roleRows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_ROLE() AS r');
    const active = parseRoleList(String(roleRows[0]?.r ?? 'NONE'));
    if (active === undefined || active.length === 0) {
      notes.push('roles are granted but none is active at login, so their privileges do not count (SET DEFAULT ROLE ALL TO the user)');
      return { ...parsed, account, notes };
    }
    const using = active.map((r) => (r.host === undefined ? quoteId(r.role) : `${quoteId(r.role)}@${quoteId(r.host)}`));
    const expanded = parseGrants(await showGrants(conn, `SHOW GRANTS FOR CURRENT_USER() USING ${using.join(', ')}`));
    return { ...expanded, account, notes };
  } catch (err) {
    notes.push(`could not read the privileges of granted roles (${(err as Error).message}); only direct grants were counted`);
    return { ...parsed, account, notes };
  }
}

export interface BinlogFilters {
  doDbs: string[];
  ignoreDbs: string[];
}

/** binlog_do_db / binlog_ignore_db as the running server applies them; empty when binlog is off. */
export async function readBinlogFilters(conn: Connection): Promise<BinlogFilters> {
  const row = await showMasterStatus(conn);
  const split = (v: unknown) =>
    String(v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return { doDbs: split(row?.Binlog_Do_DB), ignoreDbs: split(row?.Binlog_Ignore_DB) };
}
