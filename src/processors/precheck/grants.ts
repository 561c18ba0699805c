import { RE2JS } from 're2js';
import { isPunct, keyword, lex, type Token, tokenValue } from '../../shared/ddl/sql-lexer.js';

/**
 * Reads `SHOW GRANTS` output from MySQL 5.6–8.x, Aurora, MariaDB and TiDB. The privilege list is
 * taken as free words, so names this file has never heard of (Aurora's `LOAD FROM S3`, MySQL 8
 * dynamic privileges, whatever comes next) parse like any other: that is where DM's own parser
 * fails on Aurora. A line of unknown shape is returned, never thrown, so a check can warn.
 */

interface ObjectRef {
  /** `*` for every schema (a global grant). A db-level name may hold `%`/`_` wildcards. */
  schema: string;
  /** `*` for every table of the schema. */
  table: string;
}

export interface Grant {
  /** Upper case, words joined by one space: `SELECT`, `REPLICATION SLAVE`, `LOAD FROM S3`. */
  privileges: Set<string>;
  /** Column-level privileges (`SELECT (a, b)`); they do not grant the privilege on the table. */
  columns?: Map<string, Set<string>>;
  on: ObjectRef;
  /** Set for grants on stored routines (`ON PROCEDURE db.p`), which never cover a table. */
  routine?: string;
  withGrantOption: boolean;
}

export interface RoleGrant {
  role: string;
  /** MySQL 8 roles carry a host part; MariaDB roles do not. */
  host?: string;
  withAdminOption: boolean;
}

export interface ParsedGrants {
  grants: Grant[];
  /** MySQL 8 partial revokes (`REVOKE INSERT ON mysql.* FROM u`), carved out of global grants. */
  revokes: Grant[];
  roles: RoleGrant[];
  unparsed: string[];
}

const isWord = (token: Token | undefined, word: string) => keyword(token) === word;

/** Index of a keyword outside parentheses, from `from`, or -1. */
function findKeyword(tokens: Token[], word: string, from = 0): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) depth--;
    else if (depth === 0 && isWord(t, word)) return i;
  }
  return -1;
}

/** Split on commas outside parentheses. */
function splitList(tokens: Token[]): Token[][] {
  const items: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isPunct(t, '(')) depth++;
    if (isPunct(t, ')')) depth--;
    if (depth === 0 && isPunct(t, ',')) items.push([]);
    else items[items.length - 1]!.push(t);
  }
  return items;
}

function hasSequence(tokens: Token[], words: string[]): boolean {
  return tokens.some((_, i) => words.every((w, k) => isWord(tokens[i + k], w)));
}

interface PrivilegeList {
  privileges: Set<string>;
  columns: Map<string, Set<string>>;
}

function parsePrivileges(tokens: Token[]): PrivilegeList | undefined {
  const privileges = new Set<string>();
  const columns = new Map<string, Set<string>>();
  for (const item of splitList(tokens)) {
    const open = item.findIndex((t) => isPunct(t, '('));
    const words = open === -1 ? item : item.slice(0, open);
    if (words.length === 0 || words.some((t) => t.kind !== 'word')) return undefined;
    let name = words.map((t) => t.text.toUpperCase()).join(' ');
    if (name === 'ALL') name = 'ALL PRIVILEGES';
    if (open === -1) {
      privileges.add(name);
      continue;
    }
    if (!isPunct(item[item.length - 1], ')')) return undefined;
    const cols = columns.get(name) ?? new Set<string>();
    for (const col of splitList(item.slice(open + 1, -1))) {
      if (col.length !== 1 || col[0]!.kind === 'punct') return undefined;
      cols.add(tokenValue(col[0]!));
    }
    columns.set(name, cols);
  }
  return { privileges, columns };
}

const ROUTINE_KINDS = ['FUNCTION', 'PROCEDURE', 'PACKAGE'];

function parseObject(tokens: Token[]): { on: ObjectRef; routine?: string } | undefined {
  let rest = tokens;
  let routine: string | undefined;
  // `ON TABLE db.t` but not a schema that happens to be called `table` (`ON table.*`).
  const kind = isPunct(rest[1], '.') ? undefined : keyword(rest[0]);
  if (kind === 'TABLE') {
    rest = rest.slice(1);
  } else if (kind !== undefined && ROUTINE_KINDS.includes(kind)) {
    routine = kind;
    rest = rest.slice(1);
    if (routine === 'PACKAGE' && isWord(rest[0], 'BODY')) {
      routine = 'PACKAGE BODY';
      rest = rest.slice(1);
    }
  }
  const part = (t: Token | undefined): string | undefined => (isPunct(t, '*') ? '*' : t && t.kind !== 'punct' ? tokenValue(t) : undefined);
  const withRoutine = (on: ObjectRef) => (routine === undefined ? { on } : { on, routine });
  if (rest.length !== 3 || !isPunct(rest[1], '.')) return undefined;
  const schema = part(rest[0]);
  const table = part(rest[2]);
  if (schema === undefined || table === undefined) return undefined;
  if (schema === '*' && table !== '*') return undefined;
  return withRoutine({ schema, table });
}

function parseRoles(tokens: Token[], withAdminOption: boolean): RoleGrant[] | undefined {
  const roles: RoleGrant[] = [];
  for (const item of splitList(tokens)) {
    const [name, at, host] = item;
    if (!name || name.kind === 'punct') return undefined;
    if (item.length === 1) {
      roles.push({ role: tokenValue(name), withAdminOption });
    } else if (item.length === 3 && isPunct(at, '@') && host && host.kind !== 'punct') {
      roles.push({ role: tokenValue(name), host: tokenValue(host), withAdminOption });
    } else {
      return undefined;
    }
  }
  return roles;
}

/** MySQL's CURRENT_ROLE() text: `` `r1`@`%`,`r2`@`%` `` or NONE. */
export function parseRoleList(text: string): RoleGrant[] | undefined {
  if (text.trim().toUpperCase() === 'NONE') return [];
  return parseRoles(lex(text).tokens, false);
}

type LineResult =
  | { kind: 'grant'; grant: Grant }
  | { kind: 'revoke'; grant: Grant }
  | { kind: 'roles'; roles: RoleGrant[] }
  /** Understood and irrelevant to migration: PROXY grants, MariaDB's `SET DEFAULT ROLE`. */
  | { kind: 'ignored' }
  | { kind: 'unparsed' };

export function parseGrantLine(line: string): LineResult {
  const { tokens } = lex(line);
  if (isWord(tokens[0], 'SET') && isWord(tokens[1], 'DEFAULT') && isWord(tokens[2], 'ROLE')) return { kind: 'ignored' };
  const revoke = isWord(tokens[0], 'REVOKE');
  if (!revoke && !isWord(tokens[0], 'GRANT')) return { kind: 'unparsed' };

  const to = findKeyword(tokens, revoke ? 'FROM' : 'TO', 1);
  if (to === -1) return { kind: 'unparsed' };
  const on = findKeyword(tokens.slice(0, to), 'ON', 1);
  const tail = tokens.slice(to + 1);

  if (on === -1) {
    if (revoke) return { kind: 'unparsed' };
    const roles = parseRoles(tokens.slice(1, to), hasSequence(tail, ['WITH', 'ADMIN', 'OPTION']));
    return roles ? { kind: 'roles', roles } : { kind: 'unparsed' };
  }

  const privs = parsePrivileges(tokens.slice(1, on));
  if (!privs) return { kind: 'unparsed' };
  if (privs.privileges.size === 1 && privs.privileges.has('PROXY') && privs.columns.size === 0) return { kind: 'ignored' };
  const object = parseObject(tokens.slice(on + 1, to));
  if (!object) return { kind: 'unparsed' };
  const grant: Grant = {
    privileges: privs.privileges,
    on: object.on,
    withGrantOption: hasSequence(tail, ['GRANT', 'OPTION']),
  };
  if (privs.columns.size > 0) grant.columns = privs.columns;
  if (object.routine !== undefined) grant.routine = object.routine;
  return { kind: revoke ? 'revoke' : 'grant', grant };
}

export function parseGrants(lines: string[]): ParsedGrants {
  const parsed: ParsedGrants = { grants: [], revokes: [], roles: [], unparsed: [] };
  for (const line of lines) {
    const result = parseGrantLine(line);
    if (result.kind === 'grant') parsed.grants.push(result.grant);
    else if (result.kind === 'revoke') parsed.revokes.push(result.grant);
    else if (result.kind === 'roles') parsed.roles.push(...result.roles);
    else if (result.kind === 'unparsed') parsed.unparsed.push(line);
  }
  return parsed;
}

/** Names one server shows for a privilege another calls differently (MariaDB 10.5 renamed these). */
const ALIASES: Record<string, string[]> = {
  'REPLICATION CLIENT': ['BINLOG MONITOR'],
  'BINLOG MONITOR': ['REPLICATION CLIENT'],
  'REPLICATION SLAVE': ['REPLICATION REPLICA'],
  'REPLICATION REPLICA': ['REPLICATION SLAVE'],
};

/**
 * MySQL's db-level grant pattern: `%` any run, `_` one character, a backslash escapes either.
 * On RE2, linear in the name: a pattern of many `%` would make a backtracking engine crawl.
 */
function schemaPatternMatches(pattern: string, schema: string): boolean {
  const chars = Array.from(pattern);
  let source = '';
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '\\' && i + 1 < chars.length) source += RE2JS.quote(chars[++i]!);
    else if (ch === '%') source += '.*';
    else if (ch === '_') source += '.';
    else source += RE2JS.quote(ch);
  }
  return RE2JS.compile(`^${source}$`, RE2JS.DOTALL).test(schema);
}

function covers(grant: Grant, schema: string, table: string): boolean {
  if (grant.routine !== undefined) return false;
  if (grant.on.schema === '*') return true;
  if (schema === '*') return false;
  if (grant.on.table === '*') return schemaPatternMatches(grant.on.schema, schema);
  return table !== '*' && grant.on.schema === schema && grant.on.table === table;
}

function holds(grant: Grant, names: string[]): boolean {
  return grant.privileges.has('ALL PRIVILEGES') || names.some((n) => grant.privileges.has(n));
}

/**
 * Whether the grants give `privilege` on `schema`.`table`; pass `*` for the table to ask about a
 * whole schema, and `*`, `*` for a global privilege. Names compare as the server stores them
 * (case-sensitive, as with lower_case_table_names=0).
 */
export function hasPrivilege(grants: Pick<ParsedGrants, 'grants' | 'revokes'>, privilege: string, schema: string, table: string): boolean {
  const upper = privilege.toUpperCase();
  const names = [upper, ...(ALIASES[upper] ?? [])];
  const revokedHere = schema !== '*' && grants.revokes.some((r) => r.on.schema === schema && r.on.table === '*' && holds(r, names));
  return grants.grants.some((g) => holds(g, names) && covers(g, schema, table) && !(g.on.schema === '*' && revokedHere));
}
