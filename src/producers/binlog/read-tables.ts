import type { RowOp } from '../../shared/binlog/batch.js';
import { coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { columnKind } from '../../shared/binlog/column-kind.js';
import type { RowValue } from '../../shared/binlog/payload-values.js';
import type { TableRef } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import type { TableFilter } from '../../shared/filter/block-allow.js';
import type { makeExtractor } from '../../shared/filter/route.js';
import { disagreement, type TrackedTable } from '../../shared/schema/tracked-table.js';
import type { TableMeta } from './batcher.js';
import type { BinlogEvent } from './binlog-stream.js';
import { rowValues } from './zongji-row.js';
import { untrackedTable } from './schema-tracker.js';

/** Which tables are migrated, where they go and what their target rows gain. */
export interface TableRules {
  filter: TableFilter;
  route: (schema: string, table: string) => TableRef;
  extractColumns: ReturnType<typeof makeExtractor>;
  /** Whether the table has expression filters, whose evaluation needs its columns' kinds. */
  hasExpressionFilters: (schema: string, table: string) => boolean;
  /** The task's `timezone`: TIMESTAMP values are written as wall-clock text in it. */
  timeZone?: string | undefined;
}

const sameList = <T>(a: T[] | undefined, b: T[] | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]));

/** A table as the reader decodes it: the source's columns, then the route's extracted values. */
export interface ReadTable extends TableMeta {
  sourceColumns: string[];
  extraValues: string[];
}

interface RowsEvent {
  tableId: number;
  tableMap: Record<
    number,
    {
      parentSchema: string;
      tableName: string;
      columns?: { name: string; type: number }[];
      columnSchemas?: { COLUMN_TYPE?: string; CHARACTER_SET_NAME?: string | null }[];
    }
  >;
}

/**
 * The tables of one binlog connection by table id, as its tablemap events describe them:
 * whether they are migrated, their columns and key, and the values the route adds to their rows.
 * A table gets a new id whenever the source reopens it (a DDL, FLUSH TABLES, the table cache
 * evicting it), so ids churn for as long as the reader runs: a table's old id is forgotten when
 * a new one is mapped, which holds the maps to one entry per table.
 */
export function createReadTables(
  task: string,
  sourceId: string,
  rules: TableRules,
  schemaOf: (schema: string, table: string) => TrackedTable | undefined,
  fail: (err: unknown) => void,
) {
  const tables = new Map<number, ReadTable | null>();
  const columnTypes = new Map<number, number[]>();
  const primaryKeys = new Map<number, { primaryKey?: number[]; columnNames?: string[] }>();
  const idOf = new Map<string, number>();

  function forget(id: number): void {
    tables.delete(id);
    columnTypes.delete(id);
    primaryKeys.delete(id);
  }

  function tableMeta(ev: RowsEvent, tm?: { primaryKey?: number[]; columnNames?: string[] }): ReadTable | null {
    const cached = tables.get(ev.tableId);
    if (cached !== undefined) return cached;
    const entry = ev.tableMap[ev.tableId];
    if (!entry) return null;
    if (!rules.filter.table(entry.parentSchema, entry.tableName)) {
      tables.set(ev.tableId, null);
      return null;
    }
    const columns = tm?.columnNames ?? (entry.columns ?? []).map((c) => c.name);
    if (columns.includes('__proto__')) {
      // zongji builds rows as plain objects and loses this column: refuse rather than write NULL.
      fail(
        new DmqError(
          'CONFIG_INVALID',
          `\`${entry.parentSchema}\`.\`${entry.tableName}\` has a column named __proto__, which dmq's binlog reader cannot decode`,
          {
            where: `\`${entry.parentSchema}\`.\`${entry.tableName}\``,
            workaround: 'rename the column on the source, or leave the table out with block-allow-list',
          },
        ),
      );
      tables.set(ev.tableId, null);
      return null;
    }
    // Rows of a merged table are told apart by the values the route extracts, as DM does.
    const extra = rules.extractColumns(sourceId, entry.parentSchema, entry.tableName);
    const primaryKey = (tm?.primaryKey ?? []).map((i) => columns[i]!).filter((c) => c !== undefined);
    const meta: ReadTable = {
      schema: entry.parentSchema,
      table: entry.tableName,
      target: rules.route(entry.parentSchema, entry.tableName),
      columns: [...columns, ...extra.map((c) => c.column)],
      key: primaryKey.length > 0 ? [...primaryKey, ...extra.map((c) => c.column)] : [],
      sourceColumns: columns,
      extraValues: extra.map((c) => c.value),
    };
    if (rules.hasExpressionFilters(meta.schema, meta.table)) {
      meta.columnKinds = columns.map((_, i) => {
        const schema = entry.columnSchemas?.[i];
        return columnKind(String(schema?.COLUMN_TYPE ?? ''), schema?.CHARACTER_SET_NAME ?? null);
      });
    }
    tables.set(ev.tableId, meta);
    return meta;
  }

  return {
    /** A tablemap event ending at `coord`: the columns the rows events after it carry. */
    map(ev: BinlogEvent, coord: BinlogCoord): void {
      const id = Number(ev.tableId);
      const schema = String(ev.schemaName);
      const table = String(ev.tableName);
      let names = ev.columnNames as string[] | undefined;
      let primaryKey = ev.primaryKey as number[] | undefined;
      if (!Array.isArray(names) || names.length !== Number(ev.columnCount)) {
        // No names in the binlog (binlog_row_metadata=MINIMAL): the tracked definition says them.
        const tracked = schemaOf(schema, table);
        const reason = tracked ? disagreement(tracked, ev.columnTypes as number[]) : 'the schema tracker has no definition of it';
        if (!tracked || reason !== undefined) {
          fail(untrackedTable(task, sourceId, { schema, table }, reason!, coordText(coord)));
          return;
        }
        names = tracked.columns.map((c) => c.name);
        primaryKey = tracked.primaryKey.map((k) => names!.findIndex((n) => n.toLowerCase() === k.toLowerCase()));
      }
      const name = JSON.stringify([schema, table]);
      const previous = idOf.get(name);
      const types = ev.columnTypes as number[];
      const known = primaryKeys.get(id);
      // Each transaction maps its tables again, mostly as before: then what is known of the table stands.
      if (
        previous === id &&
        known &&
        sameList(known.columnNames, names) &&
        sameList(known.primaryKey, primaryKey) &&
        sameList(columnTypes.get(id), types)
      )
        return;
      if (previous !== undefined && previous !== id) {
        forget(previous);
        // zongji's own map of the connection, which it never prunes either.
        if (ev.tableMap && typeof ev.tableMap === 'object') delete (ev.tableMap as Record<number, unknown>)[previous];
      }
      idOf.set(name, id);
      tables.delete(id);
      columnTypes.set(id, types);
      primaryKeys.set(id, { primaryKey, columnNames: names });
    },
    /** A DDL changed tracked definitions: every table is described afresh from its next rows event. */
    changed(): void {
      tables.clear();
    },
    /** How many table ids are remembered: one per table the binlog has named. */
    size(): number {
      return Math.max(tables.size, columnTypes.size, primaryKeys.size);
    },
    /** The table a rows event is about; null: not migrated, or refused. */
    of(ev: BinlogEvent): ReadTable | null {
      return tableMeta(ev as never, primaryKeys.get(Number(ev.tableId)));
    },
    /** A rows event's rows as values in the table's column order, the extracted values last. */
    rows(ev: BinlogEvent, table: ReadTable, op: RowOp): { before?: RowValue[]; after?: RowValue[] }[] {
      const types = columnTypes.get(Number(ev.tableId)) ?? [];
      const decode =
        table.extraValues.length === 0
          ? (row: Record<string, unknown>) => rowValues(row, table.sourceColumns, types, rules.timeZone)
          : (row: Record<string, unknown>) => [...rowValues(row, table.sourceColumns, types, rules.timeZone), ...table.extraValues];
      return (ev.rows as Record<string, unknown>[]).map((r) => {
        if (op === 'update') {
          const u = r as { before: Record<string, unknown>; after: Record<string, unknown> };
          return { before: decode(u.before), after: decode(u.after) };
        }
        const values = decode(r);
        return op === 'insert' ? { after: values } : { before: values };
      });
    },
  };
}
