import type { BinlogCoord } from '../../shared/binlog/position.js';
import { type OnlineDdlRecord, type PendingAlters, replayRecords, shadowKey } from '../../shared/checkpoint/online-ddl-store.js';
import type { TableRef } from '../../shared/config/types.js';
import { sameNames } from '../../shared/ddl/ddl-pieces.js';
import { type DdlStatement, readDdl } from '../../shared/ddl/read-ddl.js';
import type { StatementTable } from '../../shared/ddl/token-reader.js';
import type { TableFilter } from '../../shared/filter/block-allow.js';
import type { OnlineDdlRules } from '../../shared/filter/online-ddl.js';
import { tableLabel } from '../../shared/sql/quote.js';

/**
 * What a DDL statement means when gh-ost or pt-online-schema-change may be running (DM's online
 * DDL handling): the tools' shadow and trash tables never reach the target; an ALTER run on a
 * shadow table is recorded; the RENAME that swaps the shadow table in runs the recorded ALTERs on
 * the real table instead.
 */
export type OnlineDdlStep =
  /** Not about the tools' tables: replicate it as it is. */
  | { action: 'pass' }
  | { action: 'skip'; reason: string }
  | { action: 'refuse'; reason: string }
  /** An ALTER of a shadow table: remember it (as the source ran it, names qualified) until the swap. */
  | { action: 'record'; shadow: TableRef; sql: string }
  /** The shadow table's ALTERs count no more (it was created, dropped or renamed away). */
  | { action: 'reset'; shadow: TableRef; reason: string }
  /** The cut-over: the shadow table takes the real table's name; its ALTERs run on the real table. */
  | { action: 'swap'; shadow: TableRef; real: TableRef };

const RECORDED = new Set(['alter table', 'create index', 'drop index']);

/** Pure: one statement (one table's piece of a source statement) against the task's rules. */
export function onlineDdlStep(statement: DdlStatement, rules: OnlineDdlRules, filter: TableFilter): OnlineDdlStep {
  const [first, second] = statement.tables as [TableRef, TableRef | undefined];
  if (first.table === '') return { action: 'pass' };
  const from = rules.roleOf(first);
  const to = statement.kind === 'rename table' && second ? rules.roleOf(second) : undefined;
  if (from.role === 'real') {
    if (to?.role === 'trash')
      return { action: 'skip', reason: `${tableLabel(first)} is renamed to a trash table of an online schema change: the target keeps it` };
    if (to?.role === 'shadow') {
      return filter.table(first.schema, first.table)
        ? {
            action: 'refuse',
            reason: `the rename makes the migrated table ${tableLabel(first)} a shadow table of an online schema change (${tableLabel(second!)})`,
          }
        : { action: 'skip', reason: `table ${tableLabel(first)} is not migrated` };
    }
    return { action: 'pass' };
  }
  const label = tableLabel(first);
  if (!filter.table(from.real.schema, from.real.table)) {
    return { action: 'skip', reason: `${label} belongs to ${tableLabel(from.real)}, which is not migrated` };
  }
  if (from.role === 'trash') {
    if (to?.role === 'shadow')
      return { action: 'refuse', reason: `the rename makes trash table ${label} a shadow table (${tableLabel(second!)})` };
    return { action: 'skip', reason: `${label} is a trash table of an online schema change` };
  }
  if (to?.role === 'real') return { action: 'swap', shadow: first, real: second! };
  if (to?.role === 'shadow')
    return { action: 'refuse', reason: `the rename makes shadow table ${label} another shadow table (${tableLabel(second!)})` };
  if (RECORDED.has(statement.kind)) return { action: 'record', shadow: first, sql: statement.render(sameNames) };
  if (statement.kind === 'truncate table') return { action: 'skip', reason: `${label} is a shadow table of an online schema change` };
  return { action: 'reset', shadow: first, reason: `${statement.kind} of shadow table ${label}` };
}

/** A statement read from a shadow table's ALTER, as run on `real`. */
function onTable(statement: DdlStatement, shadow: TableRef, real: TableRef): DdlStatement {
  const swap = (schema: string, table: string): TableRef => (schema === shadow.schema && table === shadow.table ? real : { schema, table });
  const render = (route: (schema: string, table: string) => TableRef) =>
    statement.render((schema, table) => {
      const ref = swap(schema, table);
      return route(ref.schema, ref.table);
    });
  return { ...statement, tables: statement.tables.map((t) => swap(t.schema, t.table)), text: render(sameNames), render };
}

export type OnlineDdlReading =
  | { action: 'apply'; statements: DdlStatement[] }
  | { action: 'skip'; reason: string }
  | { action: 'refuse'; reason: string };

/**
 * One binlog connection's view of the online schema changes under way: what earlier runs
 * recorded (`pending`, from the meta schema) and what this one reads. The records it makes wait
 * in `unsaved` until the reader writes them, before its checkpoint passes them.
 */
export function createOnlineDdl(rules: OnlineDdlRules, filter: TableFilter, pending: PendingAlters) {
  let unsaved: OnlineDdlRecord[] = [];
  const note = (record: OnlineDdlRecord) => {
    unsaved.push(record);
    replayRecords(pending, [record]);
  };

  return {
    /** A statement at `coord`: the statements to replicate in its place, a skip, or a refusal. */
    read(statement: DdlStatement, coord: BinlogCoord): OnlineDdlReading {
      const step = onlineDdlStep(statement, rules, filter);
      switch (step.action) {
        case 'pass':
          return { action: 'apply', statements: [statement] };
        case 'skip':
        case 'refuse':
          return step;
        case 'record':
          note({ kind: 'ddl', coord, shadow: step.shadow, sql: step.sql });
          return { action: 'skip', reason: `recorded for the swap of shadow table ${tableLabel(step.shadow)}` };
        case 'reset':
          note({ kind: 'reset', coord, shadow: step.shadow });
          return { action: 'skip', reason: step.reason };
        case 'swap': {
          const sqls = pending.get(shadowKey(step.shadow))?.sqls ?? [];
          if (sqls.length === 0) {
            return {
              action: 'refuse',
              reason: `the rename swaps shadow table ${tableLabel(step.shadow)} in for ${tableLabel(step.real)}, but dmq read no ALTER of it (it ran before the task's start position)`,
            };
          }
          const statements: DdlStatement[] = [];
          for (const { sql } of sqls) {
            const reading = readDdl(sql, '');
            // What was recorded was read and rendered by the same reader: it reads back.
            if (reading.type !== 'ddl') return { action: 'refuse', reason: `dmq cannot read back the recorded ALTER ${sql}` };
            statements.push(...reading.statements.map((s) => onTable(s, step.shadow, step.real)));
          }
          note({ kind: 'reset', coord, shadow: step.shadow });
          return { action: 'apply', statements };
        }
      }
    },
    /**
     * A statement dmq cannot read, about `about.table` (read from its first tokens): one about a
     * trash table is skipped, and so is a shadow table's CREATE or DROP (it resets the table's
     * ALTERs); undefined: it stays unreadable (a shadow table's ALTER would be lost).
     */
    unreadable(about: StatementTable, coord: BinlogCoord): { action: 'skip'; reason: string } | undefined {
      const role = rules.roleOf(about.table);
      if (role.role === 'real') return undefined;
      const label = tableLabel(about.table);
      if (!filter.table(role.real.schema, role.real.table))
        return { action: 'skip', reason: `${label} belongs to ${tableLabel(role.real)}, which is not migrated` };
      if (role.role === 'trash') return { action: 'skip', reason: `${label} is a trash table of an online schema change` };
      if (about.verb === 'alter') return undefined;
      note({ kind: 'reset', coord, shadow: about.table });
      return { action: 'skip', reason: `${about.verb} table of shadow table ${label}` };
    },
    /** The records not yet written; `saved` removes the first `count` once they are. */
    unsaved: (): OnlineDdlRecord[] => unsaved,
    saved(count: number): void {
      unsaved = unsaved.slice(count);
    },
  };
}

export type OnlineDdl = ReturnType<typeof createOnlineDdl>;
