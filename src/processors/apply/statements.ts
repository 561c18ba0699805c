import type { TableRef } from '../../shared/config/types.js';
import type { RowOp } from '../../shared/binlog/batch.js';
import type { RowValue } from '../../shared/binlog/payload-values.js';
import { qualify, quoteId } from '../../shared/sql/quote.js';

/** One row event: `after` for inserts and updates, `before` for updates and deletes; values in `columns` order. */
export interface RowChange {
  op: RowOp;
  before?: RowValue[];
  after?: RowValue[];
}

export interface ApplyTable {
  target: TableRef;
  columns: string[];
  /** Columns that identify a row (primary key, else a NOT NULL unique key); empty: none. */
  key: string[];
  /**
   * Columns of the target's other unique keys, when known. A multi-row UPDATE changes rows in
   * key order, not binlog order, so one that changes such a column could collide halfway; only
   * updates that change none of them (and a known list) are merged.
   */
  uniqueColumns?: string[];
  /**
   * The target's only unique index is on exactly `key`: changes to different keys never meet, so
   * a run of changes comes down to each key's net change, in any order (DM's compact).
   */
  soleKey?: boolean;
}

/** Rows per merged UPDATE: its CASE is evaluated linearly for each row. */
const MAX_CASE_ROWS = 100;

export interface Statement {
  sql: string;
  values: RowValue[];
}

/** Rough bytes a value adds to a statement, to keep multi-row statements under a size. */
function valueBytes(v: RowValue): number {
  if (v === null) return 4;
  if (Buffer.isBuffer(v)) return v.length * 2 + 3;
  return String(v).length + 3;
}

const rowBytes = (row: RowValue[]) => row.reduce<number>((n, v) => n + valueBytes(v) + 1, 2);

/**
 * The SQL for a run of row changes of one table, in order. Consecutive inserts become one
 * multi-row INSERT and consecutive deletes by a key one DELETE; that gives the same result as
 * one statement per row because they touch rows in the same order without reading each other.
 *
 * Safe mode makes every statement idempotent, for events that the copy may already contain
 * (between the low and high watermark) or that a restart replays: an insert becomes an upsert
 * (INSERT ... ON DUPLICATE KEY UPDATE, which unlike REPLACE never deletes a row that collides
 * on another unique key), an update deletes the old key and upserts the new row.
 */
export function buildStatements(
  table: ApplyTable,
  changes: RowChange[],
  options: { safeMode: boolean; maxStatementBytes?: number },
): Statement[] {
  const maxBytes = options.maxStatementBytes ?? 1 << 20;
  const name = qualify(table.target.schema, table.target.table);
  const columnList = table.columns.map(quoteId).join(', ');
  const keyIndexes = table.key.map((k) => {
    const i = table.columns.indexOf(k);
    if (i < 0) throw new Error(`key column ${k} is not among the columns of ${name}`);
    return i;
  });
  const hasKey = keyIndexes.length > 0;
  const statements: Statement[] = [];

  const upsertTail = ` ON DUPLICATE KEY UPDATE ${table.columns.map((c) => `${quoteId(c)} = VALUES(${quoteId(c)})`).join(', ')}`;
  const placeholders = `(${table.columns.map(() => '?').join(', ')})`;

  const keyMatch = (row: RowValue[]): Statement => ({
    sql: keyIndexes.map((i) => `${quoteId(table.columns[i]!)} = ?`).join(' AND '),
    values: keyIndexes.map((i) => row[i]!),
  });
  // Without a key every column must match, NULL-safely, and only one of identical rows may change.
  const fullMatch = (row: RowValue[]): Statement => ({
    sql: table.columns.map((c) => `${quoteId(c)} <=> ?`).join(' AND '),
    values: [...row],
  });

  const insertRun = (rows: RowValue[][]) => {
    const upsert = options.safeMode && hasKey;
    let batch: RowValue[][] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      statements.push({
        sql: `INSERT INTO ${name} (${columnList}) VALUES ${batch.map(() => placeholders).join(', ')}${upsert ? upsertTail : ''}`,
        values: batch.flat(),
      });
      batch = [];
      bytes = 0;
    };
    for (const row of rows) {
      if (bytes > 0 && bytes + rowBytes(row) > maxBytes) flush();
      batch.push(row);
      bytes += rowBytes(row);
    }
    flush();
  };

  const deleteRun = (rows: RowValue[][]) => {
    if (!hasKey) {
      for (const row of rows) {
        const m = fullMatch(row);
        statements.push({ sql: `DELETE FROM ${name} WHERE ${m.sql} LIMIT 1`, values: m.values });
      }
      return;
    }
    let batch: RowValue[][] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      if (keyIndexes.length === 1) {
        statements.push({
          sql: `DELETE FROM ${name} WHERE ${quoteId(table.columns[keyIndexes[0]!]!)} IN (${batch.map(() => '?').join(', ')})`,
          values: batch.map((row) => row[keyIndexes[0]!]!),
        });
      } else {
        const matches = batch.map(keyMatch);
        statements.push({
          sql: `DELETE FROM ${name} WHERE ${matches.map((m) => `(${m.sql})`).join(' OR ')}`,
          values: matches.flatMap((m) => m.values),
        });
      }
      batch = [];
      bytes = 0;
    };
    for (const row of rows) {
      const b = keyIndexes.reduce((n, i) => n + valueBytes(row[i]!), 8);
      if (bytes > 0 && bytes + b > maxBytes) flush();
      batch.push(row);
      bytes += b;
    }
    flush();
  };

  // Only what an event changed is set: less to send and parse, and the row matched by the
  // before image already holds the rest.
  const changedColumns = (before: RowValue[], after: RowValue[]) => {
    const changed = table.columns.map((_, i) => i).filter((i) => !sameValue(before[i]!, after[i]!));
    return changed.length > 0 ? changed : table.columns.map((_, i) => i);
  };

  const singleUpdate = (before: RowValue[], after: RowValue[], changed: number[]) => {
    const m = hasKey ? keyMatch(before) : fullMatch(before);
    statements.push({
      sql: `UPDATE ${name} SET ${changed.map((i) => `${quoteId(table.columns[i]!)} = ?`).join(', ')} WHERE ${m.sql}${hasKey ? '' : ' LIMIT 1'}`,
      values: [...changed.map((i) => after[i]!), ...m.values],
    });
  };

  /** Rows with one single-column key, each once, changing the same columns: one UPDATE … CASE. */
  const mergedUpdate = (rows: { before: RowValue[]; after: RowValue[] }[], changed: number[]) => {
    if (rows.length === 1) {
      singleUpdate(rows[0]!.before, rows[0]!.after, changed);
      return;
    }
    const k = keyIndexes[0]!;
    const keyColumn = quoteId(table.columns[k]!);
    const whens = rows.map(() => 'WHEN ? THEN ?').join(' ');
    statements.push({
      sql: `UPDATE ${name} SET ${changed.map((i) => `${quoteId(table.columns[i]!)} = CASE ${keyColumn} ${whens} END`).join(', ')} WHERE ${keyColumn} IN (${rows.map(() => '?').join(', ')})`,
      values: [...changed.flatMap((i) => rows.flatMap((r) => [r.before[k]!, r.after[i]!])), ...rows.map((r) => r.before[k]!)],
    });
  };

  const unique = new Set(table.uniqueColumns ?? []);
  const mayMerge = !options.safeMode && keyIndexes.length === 1 && table.uniqueColumns !== undefined;

  const updateRun = (run: { before: RowValue[]; after: RowValue[] }[]) => {
    if (options.safeMode && hasKey) {
      for (const { before, after } of run) {
        deleteRun([before]);
        insertRun([after]);
      }
      return;
    }
    let group: { before: RowValue[]; after: RowValue[] }[] = [];
    let shape: number[] = [];
    let keys = new Set<string>();
    let types: (string | undefined)[] = [];
    let bytes = 0;
    const flushGroup = () => {
      if (group.length > 0) mergedUpdate(group, shape);
      group = [];
      keys = new Set();
      types = [];
      bytes = 0;
    };
    for (const row of run) {
      const changed = changedColumns(row.before, row.after);
      const k = keyIndexes[0]!;
      if (!mayMerge || !sameValue(row.before[k]!, row.after[k]!) || changed.some((i) => unique.has(table.columns[i]!))) {
        flushGroup();
        singleUpdate(row.before, row.after, changed);
        continue;
      }
      const key = valueIdentity(row.before[k]!);
      const rowTypes = changed.map((i) => valueType(row.after[i]!));
      // CASE takes one type for all its branches: values of one column must agree to convert as they would alone.
      const fits =
        group.length > 0 &&
        group.length < MAX_CASE_ROWS &&
        changed.join() === shape.join() &&
        !keys.has(key) &&
        rowTypes.every((t, j) => t === undefined || types[j] === undefined || t === types[j]) &&
        bytes + rowBytes(row.after) <= maxBytes;
      if (!fits) {
        flushGroup();
        shape = changed;
      }
      group.push(row);
      keys.add(key);
      types = rowTypes.map((t, j) => types[j] ?? t);
      bytes += rowBytes(row.after);
    }
    flushGroup();
  };

  if (table.soleKey && hasKey) {
    const net = netChanges(changes, keyIndexes, name);
    if (options.safeMode) {
      for (const u of net.updates) {
        net.deletes.push(u.before);
        net.inserts.push(u.after);
      }
      net.updates = [];
    }
    // Every key comes once, so any order does; deletes go first, so that a key one identity gives
    // up (`A`) is free before another identity the target takes for the same key (`a`) comes.
    deleteRun(net.deletes);
    insertRun(net.inserts);
    updateRun(byChangedColumns(net.updates, changedColumns));
    return statements;
  }

  let i = 0;
  while (i < changes.length) {
    const op = changes[i]!.op;
    if (op === 'update') {
      const run: { before: RowValue[]; after: RowValue[] }[] = [];
      for (; i < changes.length && changes[i]!.op === 'update'; i++) {
        run.push({ before: requireRow(changes[i]!.before, 'before', name), after: requireRow(changes[i]!.after, 'after', name) });
      }
      updateRun(run);
      continue;
    }
    const run: RowValue[][] = [];
    while (i < changes.length && changes[i]!.op === op) {
      const c = changes[i]!;
      run.push(op === 'insert' ? requireRow(c.after, 'after', name) : requireRow(c.before, 'before', name));
      i += 1;
    }
    if (op === 'insert') insertRun(run);
    else deleteRun(run);
  }
  return statements;
}

/** What a run of changes did to one key, in the order the keys first appear. */
interface KeyChange {
  /** The row was there before the run: an update or delete found it. */
  existed: boolean;
  /** Only updates that kept the key: one UPDATE from `before` to `after` does it all. */
  updatesOnly: boolean;
  /** The first image with the key: the row before the run when it existed. */
  before: RowValue[];
  /** The row after the run; null: gone. */
  after: RowValue[] | null;
}

/**
 * The net change of each key in `changes`: rows to delete (there before, gone or replaced
 * after), rows to insert (new, or replacing a deleted one), and rows only updated, each with its
 * image before the run and after it.
 */
function netChanges(changes: RowChange[], keyIndexes: number[], name: string) {
  const keys = new Map<string, KeyChange>();
  const identity = (row: RowValue[]) =>
    keyIndexes.length === 1 ? valueIdentity(row[keyIndexes[0]!]!) : JSON.stringify(keyIndexes.map((i) => valueIdentity(row[i]!)));
  const touch = (row: RowValue[], existed: boolean): KeyChange => {
    const id = identity(row);
    let entry = keys.get(id);
    if (!entry) {
      entry = { existed, updatesOnly: existed, before: row, after: null };
      keys.set(id, entry);
    }
    return entry;
  };
  for (const c of changes) {
    if (c.op === 'insert') {
      const entry = touch(requireRow(c.after, 'after', name), false);
      entry.updatesOnly = false;
      entry.after = c.after!;
    } else if (c.op === 'delete') {
      const entry = touch(requireRow(c.before, 'before', name), true);
      entry.updatesOnly = false;
      entry.after = null;
    } else {
      const before = requireRow(c.before, 'before', name);
      const after = requireRow(c.after, 'after', name);
      const from = touch(before, true);
      if (identity(before) === identity(after)) {
        from.after = after;
        continue;
      }
      from.updatesOnly = false;
      from.after = null;
      const to = touch(after, false);
      to.updatesOnly = false;
      to.after = after;
    }
  }
  const deletes: RowValue[][] = [];
  const inserts: RowValue[][] = [];
  const updates: { before: RowValue[]; after: RowValue[] }[] = [];
  for (const k of keys.values()) {
    if (k.updatesOnly && k.after) {
      updates.push({ before: k.before, after: k.after });
      continue;
    }
    // A row inserted and deleted again in the run may be there already in safe mode (the copy has it).
    if (k.existed || !k.after) deletes.push(k.before);
    if (k.after) inserts.push(k.after);
  }
  return { deletes, inserts, updates };
}

/** Updates of different keys reordered so that those setting the same columns are neighbours, which merge. */
function byChangedColumns<T extends { before: RowValue[]; after: RowValue[] }>(
  updates: T[],
  changedColumns: (before: RowValue[], after: RowValue[]) => number[],
): T[] {
  const groups = new Map<string, T[]>();
  for (const u of updates) {
    const shape = changedColumns(u.before, u.after).join();
    const group = groups.get(shape);
    if (group) group.push(u);
    else groups.set(shape, [u]);
  }
  return [...groups.values()].flat();
}

/** A key value as a string that differs whenever the values differ, bytes included. */
function valueIdentity(v: RowValue): string {
  return Buffer.isBuffer(v) ? `b:${v.toString('hex')}` : `${typeof v}:${String(v)}`;
}

function valueType(v: RowValue): string | undefined {
  if (v === null) return undefined;
  return Buffer.isBuffer(v) ? 'bytes' : typeof v;
}

function sameValue(a: RowValue, b: RowValue): boolean {
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  return a === b;
}

function requireRow(row: RowValue[] | undefined, which: string, table: string): RowValue[] {
  if (!row) throw new Error(`a row change of ${table} lacks its ${which} image (binlog_row_image must be FULL)`);
  return row;
}
