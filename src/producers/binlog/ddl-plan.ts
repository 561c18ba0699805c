import { createSchemaIfMissing } from '../../shared/sql/target-schema.js';
import type { DdlBarrier, DdlWait, ShardRole } from '../../shared/binlog/batch.js';
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
  /** Where a table's stream and each of its lanes must stand to have applied what this run read of it. */
  waitsOf(schema: string, table: string): DdlWait[];
  /** The tables that have a stream in this run. */
  streams(): TableRef[];
  /** Where a table last joined or left its merged table (CREATE/DROP TABLE in shard mode) in this run. */
  lastShardChange(schema: string, table: string): string | undefined;
}

export type DdlPlan =
  | { action: 'apply'; barriers: DdlInput['barriers'] }
  | { action: 'skip'; reason: string }
  | { action: 'refuse'; code: 'DDL_UNSUPPORTED' | 'EVENT_FILTERED'; reason: string };

/**
 * In shard mode, what each statement does to a merged table (see ShardRole): a structure change
 * waits for every shard; one shard dropping, emptying or renaming its table must not do that to
 * the merged one (as in DM). DROP DATABASE, about many tables at once, is not passed on at all.
 */
const sameTable = (a: TableRef, b: TableRef) => a.schema === b.schema && a.table === b.table;

const SHARD_ROLES: Partial<Record<string, ShardRole>> = {
  'alter table': 'lock',
  'create index': 'lock',
  'drop index': 'lock',
  'drop table': 'leave',
  'truncate table': 'unmerged-only',
  'rename table': 'unmerged-only',
  'create table': 'join',
};

/**
 * What one DDL statement read from the binlog becomes: barriers in the apply chains of the
 * tables it is about, or a skip with the reason, or a refusal that pauses the task. `coord` is
 * where the statement ends in the binlog. Pure: the event reader feeds it the reader's state.
 */
export function planDdl(statement: DdlStatement, coord: string, ctx: DdlPlanContext): DdlPlan {
  const [first, second] = statement.tables as [TableRef, TableRef | undefined];
  const label = first.table === '' ? quoteId(first.schema) : tableLabel(first);

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

  // As in DM, the event filters judge only what the block-allow list migrates. As DM's syncer
  // does, an ALTER TABLE is filtered as what its first telling clause does
  // (`drop column`, `modify default value` ...), and as `alter table` when none tells more.
  const event = statement.kind === 'alter table' ? (statement.alterKinds[0] ?? 'alter table') : statement.kind;
  const verdict = ctx.eventFilter({ schema: first.schema, table: first.table, event, sql: statement.text });
  if (verdict.action === 'Ignore') return { action: 'skip', reason: `filter rule "${verdict.rule}" ignores ${event} on ${label}` };
  if (verdict.action === 'Error') {
    return { action: 'refuse', code: 'EVENT_FILTERED', reason: `filter rule "${verdict.rule}" forbids ${event} on ${label}` };
  }

  if (ctx.shardMode !== '' && statement.kind === 'drop database') {
    return { action: 'skip', reason: `shard-mode ${ctx.shardMode}: drop database of shards is not applied to the merged tables` };
  }

  const target = statement.render(ctx.route);
  const meta = (ref: TableRef): TableMeta => ({ ...ref, target: ctx.route(ref.schema, ref.table), columns: [], key: [] });
  const waitFor = (ref: TableRef): DdlWait[] => ctx.waitsOf(ref.schema, ref.table);
  const role = ctx.shardMode === '' ? 'none' : (SHARD_ROLES[statement.kind] ?? 'none');
  // Optimistic: a change that only adds goes to the merged table at once.
  const shard = role === 'lock' && ctx.shardMode === 'optimistic' && statement.additive ? 'first' : role;
  const barrier = (after: DdlWait[], sql: string[]): DdlBarrier => ({
    source: statement.text,
    kind: statement.kind,
    target: sql,
    after,
    shard,
  });
  const schemaStream = { schema: first.schema, table: '' };

  switch (statement.kind) {
    case 'create table': {
      // The schema may have been dropped and made again just before: follow its stream, and
      // create it if the target lacks it.
      const after = [...waitFor(schemaStream), ...(second ? waitFor(second) : [])];
      const createSchema = createSchemaIfMissing(ctx.route(first.schema, first.table).schema);
      return { action: 'apply', barriers: [{ table: meta(first), ddl: barrier(after, [createSchema, target]), creates: true }] };
    }
    case 'rename table': {
      // The rename runs in the old name's stream; the new name's stream waits for it.
      const to = second!;
      return {
        action: 'apply',
        barriers: [
          { table: meta(first), ddl: barrier(waitFor(to), [target]), creates: false },
          { table: meta(to), ddl: barrier([{ ...first, coord }], []), creates: true },
        ],
      };
    }
    case 'drop database': {
      // Every table of the schema applies what came before; their later rows follow the drop.
      const tables = ctx.streams().filter((t) => t.schema === first.schema);
      return {
        action: 'apply',
        barriers: [
          { table: meta(schemaStream), ddl: barrier(tables.flatMap(waitFor), [target]), creates: true },
          ...tables.map((t) => ({ table: meta(t), ddl: barrier([{ ...schemaStream, coord }], []), creates: false })),
        ],
      };
    }
    case 'create database':
    case 'alter database':
      return { action: 'apply', barriers: [{ table: meta(schemaStream), ddl: barrier([], [target]), creates: true }] };
    default: {
      // A shard's structure change waits until the other shards of its merged table have
      // joined or left it as far as the binlog says before it: only then does the lock know who
      // it waits for. (Not for their rows, nor their own locks, which may wait for this one.)
      const routed = ctx.route(first.schema, first.table);
      const changes: DdlWait[] =
        shard !== 'lock' && shard !== 'first'
          ? []
          : ctx
              .streams()
              .filter((t) => (t.schema !== first.schema || t.table !== first.table) && sameTable(ctx.route(t.schema, t.table), routed))
              .flatMap((t) => {
                const coord = ctx.lastShardChange(t.schema, t.table);
                return coord === undefined ? [] : [{ ...t, coord }];
              });
      return {
        action: 'apply',
        barriers: [{ table: meta(first), ddl: barrier([...waitFor(schemaStream), ...changes], [target]), creates: false }],
      };
    }
  }
}
