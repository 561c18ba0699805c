import type { TableRef } from '../config/types.js';
import { qualify, quoteId } from '../sql/quote.js';
import type { DdlStatement } from './read-ddl.js';
import { isPunct, keyword, type Token, tokenValue } from './sql-lexer.js';

/**
 * Two common statements node-sql-parser 5.4 cannot read, read from their tokens instead: both
 * have a fixed shape with nothing nested, so the tokens say everything. `DROP DATABASE` with a
 * backquoted name (MariaDB logs statements as typed), and `ALTER TABLE ... ALTER [COLUMN] c
 * SET DEFAULT v | DROP DEFAULT` (DM's "modify default value"). Anything else: undefined.
 */
/** The name a word or backquoted token stands for. */
function identifier(t: Token | undefined): string | undefined {
  return t?.kind === 'word' || t?.kind === 'quoted' ? tokenValue(t) : undefined;
}

/** A cursor over the tokens; each step consumes only on a match. */
function cursor(tokens: Token[]) {
  let i = 0;
  return {
    word(...words: string[]): boolean {
      if (!words.includes(keyword(tokens[i]) ?? '')) return false;
      i++;
      return true;
    },
    punct(text: string): boolean {
      if (!isPunct(tokens[i], text)) return false;
      i++;
      return true;
    },
    name(): string | undefined {
      const name = identifier(tokens[i]);
      if (name !== undefined) i++;
      return name;
    },
    next(): Token | undefined {
      return tokens[i++];
    },
    done: () => i >= tokens.length,
  };
}

function dropDatabase(tokens: Token[], text: string): DdlStatement | undefined {
  const c = cursor(tokens);
  if (!c.word('DROP') || !c.word('DATABASE', 'SCHEMA')) return undefined;
  if (c.word('IF') && !c.word('EXISTS')) return undefined;
  const schema = c.name();
  if (schema === undefined || !c.done()) return undefined;
  return {
    kind: 'drop database',
    tables: [{ schema, table: '' }],
    alterKinds: [],
    additive: false,
    text,
    render: (route) => `DROP DATABASE IF EXISTS ${quoteId(route(schema, '').schema)}`,
  };
}

/** A default value as written: a literal, signed number, NULL, TRUE or FALSE. */
function defaultValue(c: ReturnType<typeof cursor>): string | undefined {
  const sign = c.punct('-') ? '-' : c.punct('+') ? '+' : '';
  const value = c.next();
  if (value?.kind === 'number') return sign + value.text;
  if (sign !== '') return undefined;
  if (value?.kind === 'string') return value.text;
  const word = keyword(value);
  return word === 'NULL' || word === 'TRUE' || word === 'FALSE' ? word : undefined;
}

/** A table name, qualified or in the default schema. */
function tableName(c: ReturnType<typeof cursor>, defaultSchema: string): TableRef | undefined {
  const first = c.name();
  if (first === undefined) return undefined;
  const qualified = c.punct('.');
  const second = qualified ? c.name() : undefined;
  if (qualified && second === undefined) return undefined;
  const table = qualified ? { schema: first, table: second! } : { schema: defaultSchema, table: first };
  return table.schema === '' ? undefined : table;
}

function alterDefaults(tokens: Token[], defaultSchema: string, text: string): DdlStatement | undefined {
  const c = cursor(tokens);
  if (!c.word('ALTER') || !c.word('TABLE')) return undefined;
  const table = tableName(c, defaultSchema);
  if (table === undefined) return undefined;
  const clauses: string[] = [];
  do {
    if (!c.word('ALTER')) return undefined;
    c.word('COLUMN');
    const column = c.name();
    if (column === undefined) return undefined;
    if (c.word('DROP')) {
      if (!c.word('DEFAULT')) return undefined;
      clauses.push(`ALTER COLUMN ${quoteId(column)} DROP DEFAULT`);
    } else {
      if (!c.word('SET') || !c.word('DEFAULT')) return undefined;
      const value = defaultValue(c);
      if (value === undefined) return undefined;
      clauses.push(`ALTER COLUMN ${quoteId(column)} SET DEFAULT ${value}`);
    }
  } while (c.punct(','));
  if (!c.done()) return undefined;
  return {
    kind: 'alter table',
    tables: [table],
    alterKinds: ['modify default value'],
    additive: false,
    text,
    render: (route) => {
      const to = route(table.schema, table.table);
      return `ALTER TABLE ${qualify(to.schema, to.table)} ${clauses.join(', ')}`;
    },
  };
}

/** What a statement the parser cannot read is about, from its first tokens: CREATE, ALTER or DROP of one table. */
export interface StatementTable {
  verb: 'create' | 'alter' | 'drop';
  table: TableRef;
}

export function statementTable(tokens: Token[], defaultSchema: string): StatementTable | undefined {
  const c = cursor(tokens);
  const verb = c.word('CREATE') ? 'create' : c.word('ALTER') ? 'alter' : c.word('DROP') ? 'drop' : undefined;
  if (verb === undefined || !c.word('TABLE')) return undefined;
  if (c.word('IF')) {
    c.word('NOT');
    if (!c.word('EXISTS')) return undefined;
  }
  const table = tableName(c, defaultSchema);
  // DROP TABLE a, b is about more than one table.
  if (table === undefined || (verb === 'drop' && c.punct(','))) return undefined;
  return { verb, table };
}

export function readByTokens(tokens: Token[], defaultSchema: string, text: string): DdlStatement | undefined {
  return dropDatabase(tokens, text) ?? alterDefaults(tokens, defaultSchema, text);
}
