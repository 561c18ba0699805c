import { keyword, lex, type Token } from './sql-lexer.js';

/**
 * What a target server accepts in a table definition, read from it once (see
 * shared/sql/target-facts.ts): its kind, and the collations and charsets it has.
 */
export interface TargetDialect {
  kind: 'tidb' | 'mariadb' | 'mysql';
  /** As the server reports it, e.g. `8.0.11-TiDB-v8.5.6`. */
  version: string;
  /** Collation name (lower case) → its charset. */
  collations: ReadonlyMap<string, string>;
  /** Charset (lower case) → its default collation. */
  charsetDefaults: ReadonlyMap<string, string>;
}

/** A definition made acceptable to the target, with what was changed, or why it cannot be. */
export type Adapted = { ok: true; sql: string; changes: string[] } | { ok: false; reason: string; workaround: string };

/** MariaDB's own column types, stored as text elsewhere: the values dmq copies are their text form. */
const MARIADB_TYPES: Readonly<Record<string, string>> = { uuid: 'CHAR(36)', inet4: 'VARCHAR(15)', inet6: 'VARCHAR(45)' };
/** MySQL's and MariaDB's spatial column types (stored as WKB bytes). */
export const SPATIAL_TYPES: ReadonlySet<string> = new Set([
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection',
]);
/** MariaDB table options other servers do not parse; they only tune MariaDB's own engines. */
const MARIADB_TABLE_OPTIONS = new Set(['page_checksum', 'transactional', 'page_compressed', 'page_compression_level']);
/** Engines TiDB and MySQL lack: the table is created with the target's own engine instead. */
const FOREIGN_ENGINES = new Set(['aria', 'myisam', 'memory', 'heap', 'csv', 'archive', 'blackhole', 'federated', 'rocksdb', 'columnstore']);

interface Edit {
  from: number;
  to: number;
  text: string;
}

/**
 * The collation the target has that is closest to one it lacks: same charset, case-insensitive
 * kept where the target has `<charset>_general_ci`, else the charset's binary collation, else its
 * default. `utf8mb3_*` is `utf8_*` on servers that only know the old name.
 */
export function nearestCollation(name: string, dialect: TargetDialect): string | undefined {
  const lower = name.toLowerCase();
  if (dialect.collations.has(lower)) return undefined;
  const renamed = lower.replace(/^utf8mb3_/, 'utf8_');
  if (dialect.collations.has(renamed)) return renamed;
  const charset = renamed.split('_')[0] ?? '';
  const candidates = [
    ...(renamed.endsWith('_ci') ? [`${charset}_general_ci`, `${charset}_unicode_ci`] : []),
    `${charset}_bin`,
    dialect.charsetDefaults.get(charset),
  ];
  return candidates.find((c): c is string => c !== undefined && dialect.collations.has(c));
}

/** The collation the target gets instead of `name`, and why (undefined: the target has it). */
export function collationChange(name: string, dialect: TargetDialect): { to: string; why: string } | undefined {
  const nearest = nearestCollation(name, dialect);
  if (nearest === undefined) return undefined;
  const caseChange = /_ci$/i.test(name) && nearest.endsWith('_bin') ? ', so its comparisons become case-sensitive' : '';
  return { to: nearest, why: `collation ${name} → ${nearest} (the target lacks ${name}${caseChange})` };
}

/** What a column type becomes on the target: kept (undefined), rewritten, or refused. */
export function typeChange(
  type: string,
  dialect: TargetDialect,
): { to: string; why: string } | { refused: string; workaround: string } | undefined {
  const lower = type.toLowerCase();
  if (dialect.kind === 'tidb' && SPATIAL_TYPES.has(lower)) {
    return {
      refused: `${lower.toUpperCase()}, and TiDB has no spatial types`,
      workaround: 'leave the table out with block-allow-list, or store the column as WKB (VARBINARY) or WKT (TEXT) on the source first',
    };
  }
  const as = dialect.kind === 'mariadb' ? undefined : MARIADB_TYPES[lower];
  return as === undefined ? undefined : { to: as, why: `MariaDB's ${lower.toUpperCase()} → ${as} (the values keep their text form)` };
}

/**
 * Rewrites a CREATE TABLE (as SHOW CREATE TABLE prints it on MySQL or MariaDB) or another DDL
 * statement so that the target accepts it: collations and charsets it lacks, MariaDB-only types,
 * table options and engines. Only words outside strings and comments are touched. Spatial
 * columns on TiDB cannot be translated and are refused with the column named.
 */
export function adaptDefinition(sql: string, dialect: TargetDialect): Adapted {
  const { tokens } = lex(sql);
  const edits: Edit[] = [];
  const changes: string[] = [];
  const replace = (token: Token, text: string) => edits.push({ from: token.at, to: token.at + token.text.length, text });
  const cut = (first: Token, last: Token) => edits.push({ from: first.at, to: last.at + last.text.length, text: '' });
  const notMariadb = dialect.kind !== 'mariadb';

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const word = keyword(token)?.toLowerCase();
    const previous = tokens[i - 1];
    const next = tokens[i + 1];
    // `COLLATE x`, `COLLATE = x`, `COLLATE=x`: the name is the next word.
    if (word === 'collate') {
      const nameAt = next?.text === '=' ? i + 2 : i + 1;
      const name = tokens[nameAt];
      if (name?.kind !== 'word') continue;
      const change = collationChange(name.text, dialect);
      if (change === undefined) continue;
      replace(name, change.to);
      changes.push(change.why);
      continue;
    }
    if (word === 'utf8mb3' && !dialect.charsetDefaults.has('utf8mb3') && dialect.charsetDefaults.has('utf8')) {
      replace(token, 'utf8');
      continue;
    }
    if (!notMariadb) continue;
    // A column's type follows its (quoted) name.
    if (word !== undefined && previous?.kind === 'quoted' && next?.text !== '(') {
      const change = typeChange(word, dialect);
      if (change !== undefined && 'refused' in change) {
        return { ok: false, reason: `column ${previous.text} is ${change.refused}`, workaround: change.workaround };
      }
      if (change !== undefined) {
        replace(token, change.to);
        changes.push(`column ${previous.text}: ${change.why}`);
        continue;
      }
    }
    if (word === 'compressed' && previous?.kind !== 'punct') {
      cut(token, token);
      changes.push("MariaDB's COMPRESSED column attribute dropped");
      continue;
    }
    // `WITH SYSTEM VERSIONING` (table) and `WITHOUT SYSTEM VERSIONING` (column).
    if ((word === 'with' || word === 'without') && keyword(next) === 'SYSTEM' && keyword(tokens[i + 2]) === 'VERSIONING') {
      cut(token, tokens[i + 2]!);
      changes.push(`MariaDB's ${word.toUpperCase()} SYSTEM VERSIONING dropped: the target keeps current rows only`);
      i += 2;
      continue;
    }
    if (word !== undefined && MARIADB_TABLE_OPTIONS.has(word) && next?.text === '=' && tokens[i + 2] !== undefined) {
      cut(token, tokens[i + 2]!);
      changes.push(`MariaDB table option ${token.text} dropped`);
      i += 2;
      continue;
    }
    if (word === 'engine' && next?.text === '=' && FOREIGN_ENGINES.has(keyword(tokens[i + 2])?.toLowerCase() ?? '')) {
      changes.push(`ENGINE=${tokens[i + 2]!.text} → InnoDB`);
      replace(tokens[i + 2]!, 'InnoDB');
      i += 2;
    }
  }
  let out = sql;
  for (const edit of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, edit.from) + edit.text + out.slice(edit.to);
  return { ok: true, sql: out, changes };
}
