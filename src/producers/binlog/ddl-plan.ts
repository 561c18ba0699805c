import type { DdlUnit, DdlWait } from '../../shared/binlog/batch.js';
import type { ShardMode, TableRef } from '../../shared/config/types.js';
import type { DdlStatement } from '../../shared/ddl/read-ddl.js';
import type { TableFilter } from '../../shared/filter/block-allow.js';
import type { EventFilterVerdict, EventToFilter } from '../../shared/filter/binlog-event.js';
import { quoteId, tableLabel } from '../../shared/sql/quote.js';
import type { DdlInput, TableMeta } from './batcher.js';

export interface DdlPlanContext {
  filter: TableFilter;
  route: (schema: string, table: string) => TableRef;
  eventFilter: (ev: EventToFilter) => EventFilterVerdict;
  shardMode: ShardMode;
  /** Where a table's stream stands in this run of the reader (its last batch), if it has one. */
  lastOf(schema: string, table: string): string | undefined;
  /** The tables of a schema that have a stream in this run. */
  tablesOf(schema: string): string[];
}

export type DdlPlan =
  | { action: 'apply'; units: DdlInput['units'] }
  | { action: 'skip'; reason: string }
  | { action: 'refuse'; code: 'DDL_UNSUPPORTED' | 'EVENT_FILTERED'; reason: string };

/** Statements a shard merge does not pass on: one shard dropping or emptying its table must not empty the merged one (DM does the same). */
const SHARD_SKIPPED = new Set(['drop table', 'truncate table', 'drop database', 'rename table']);
/** Statements that change a merged table's structure: they wait for every shard (pessimistic). */
const SHARD_LOCKED = new Set(['alter table', 'create index', 'drop index']);

/**
 * What one DDL statement read from the binlog becomes: units for the apply chains of the
 * tables it is about, or a skip with the reason, or a refusal that pauses the task. `coord` is
 * where the statement ends in the binlog. Pure: the tailer feeds it the reader's state.
 */
export function planDdl(statement: DdlStatement, coord: string, ctx: DdlPlanContext): DdlPlan {
  const [first, second] = statement.tables as [TableRef, TableRef | undefined];
  const label = first.table === '' ? quoteId(first.schema) : tableLabel(first);

  // As DM's syncer does, an ALTER TABLE is filtered as what its first telling clause does
  // (`drop column`, `modify default value` ...), and as `alter table` when none tells more.
  const event = statement.kind === 'alter table' ? (statement.alterKinds[0] ?? 'alter table') : statement.kind;
  const verdict = ctx.eventFilter({ schema: first.schema, table: first.table, event, sql: statement.text });
  if (verdict.action === 'Ignore') return { action: 'skip', reason: `filter rule "${verdict.rule}" ignores ${event} on ${label}` };
  if (verdict.action === 'Error') {
    return { action: 'refuse', code: 'EVENT_FILTERED', reason: `filter rule "${verdict.rule}" forbids ${event} on ${label}` };
  }

  if (first.table === '') {
    if (!ctx.filter.schema(first.schema)) return { action: 'skip', reason: `schema ${label} is not migrated` };
  } else if (statement.kind === 'rename table' && second) {
    const from = ctx.filter.table(first.schema, first.table);
    const to = ctx.filter.table(second.schema, second.table);
    if (!from && !to) return { action: 'skip', reason: `neither ${label} nor ${tableLabel(second)} is migrated` };
    if (from !== to) {
      return {
        action: 'refuse',
        code: 'DDL_UNSUPPORTED',
        reason: `the rename moves a table ${from ? 'out of' : 'into'} the migrated tables (${label} is ${from ? '' : 'not '}migrated, ${tableLabel(second)} is ${to ? '' : 'not '}migrated), so dmq cannot keep the target right`,
      };
    }
  } else if (!ctx.filter.table(first.schema, first.table)) {
    return { action: 'skip', reason: `table ${label} is not migrated` };
  }

  if (ctx.shardMode !== '' && SHARD_SKIPPED.has(statement.kind)) {
    return { action: 'skip', reason: `shard-mode ${ctx.shardMode}: ${statement.kind} of a shard is not applied to the merged table` };
  }

  const target = statement.render(ctx.route);
  const meta = (ref: TableRef): TableMeta => ({ ...ref, target: ctx.route(ref.schema, ref.table), columns: [], key: [] });
  const waitFor = (ref: TableRef): DdlWait[] => {
    const coord = ctx.lastOf(ref.schema, ref.table);
    return coord === undefined ? [] : [{ ...ref, coord }];
  };
  const unit = (after: DdlWait[], sql: string[]): DdlUnit => ({ source: statement.text, kind: statement.kind, target: sql, after, shardLock: ctx.shardMode !== '' && SHARD_LOCKED.has(statement.kind) });
  const schemaStream = { schema: first.schema, table: '' };

  switch (statement.kind) {
    case 'create table': {
      // The schema may have been dropped and made again just before: follow its stream, and
      // create it if the target lacks it.
      const after = [...waitFor(schemaStream), ...(second ? waitFor(second) : [])];
      const createSchema = `CREATE DATABASE IF NOT EXISTS ${quoteId(ctx.route(first.schema, '').schema)}`;
      return { action: 'apply', units: [{ table: meta(first), ddl: unit(after, [createSchema, target]), creates: true }] };
    }
    case 'rename table': {
      // The rename runs in the old name's stream; the new name's stream waits for it.
      const to = second!;
      return {
        action: 'apply',
        units: [
          { table: meta(first), ddl: unit(waitFor(to), [target]), creates: false },
          { table: meta(to), ddl: unit([{ ...first, coord }], []), creates: true },
        ],
      };
    }
    case 'drop database': {
      // Every table of the schema applies what came before; their later rows follow the drop.
      const tables = ctx.tablesOf(first.schema).map((table) => ({ schema: first.schema, table }));
      return {
        action: 'apply',
        units: [
          { table: meta(schemaStream), ddl: unit(tables.flatMap(waitFor), [target]), creates: true },
          ...tables.map((t) => ({ table: meta(t), ddl: unit([{ ...schemaStream, coord }], []), creates: false })),
        ],
      };
    }
    case 'create database':
    case 'alter database':
      return { action: 'apply', units: [{ table: meta(schemaStream), ddl: unit([], [target]), creates: true }] };
    default:
      return { action: 'apply', units: [{ table: meta(first), ddl: unit(waitFor(schemaStream), [target]), creates: false }] };
  }
}
