import type { ApplyBatch, RowOp } from '../../shared/binlog/batch.js';
import { addGtid, formatGtidSet, type GtidSet } from '../../shared/binlog/gtid-set.js';
import { compareCoords, coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import { tableKey } from '../../shared/checkpoint/sync-checkpoint.js';
import type { InstanceConfig, SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { readDdl } from '../../shared/ddl/read-ddl.js';
import { DmqError } from '../../shared/errors.js';
import { makeEventFilter } from '../../shared/filter/binlog-event.js';
import { instanceListFilter, instanceTableFilter } from '../../shared/filter/migrated-tables.js';
import type { TableFilter } from '../../shared/filter/block-allow.js';
import { onlineDdlRules, type OnlineDdlRules } from '../../shared/filter/online-ddl.js';
import { expressionFiltersOf } from '../../shared/filter/expression.js';
import { instanceEventRules } from '../../shared/filter/source-filters.js';
import { makeExtractor, makeRouter } from '../../shared/filter/route.js';
import type { Logger } from '../../shared/logger.js';
import type { BinlogOp } from '../../shared/state/binlog-ops.js';
import type { Batcher, TableMeta } from './batcher.js';
import type { BinlogEvent } from './binlog-stream.js';
import { planDdl } from './ddl-plan.js';
import type { OnlineDdl } from './online-ddl.js';
import { createReadTables, type TableRules } from './read-tables.js';
import type { ReadFigures } from './reader-status.js';
import type { SchemaTracker } from './schema-tracker.js';
import type { TransactionLedger } from './transaction-ledger.js';
import { transactionControl } from './transaction-control.js';

/** The task's rules for what the reader reads: tables, routes and event filters (the task's and the source's). */
export interface ReadRules extends TableRules {
  eventFilter: ReturnType<typeof makeEventFilter>;
  /** With `online-ddl`: which tables are gh-ost/pt-osc shadow and trash tables. */
  onlineDdl: OnlineDdlRules | undefined;
  /**
   * The tables whose definitions the schema tracker follows: the migrated ones and their
   * shadow tables, whose definition becomes the real table's at the swap.
   */
  trackedFilter: TableFilter;
}

export function readRules(task: TaskConfig, instance: InstanceConfig, source: SourceConfig): ReadRules {
  const events = instanceEventRules(task, instance, source);
  const onlineDdl = onlineDdlRules(task);
  return {
    filter: instanceTableFilter(task, instance),
    onlineDdl,
    trackedFilter: instanceListFilter(task, instance),
    route: makeRouter(instance.routes, task.caseSensitive),
    extractColumns: makeExtractor(instance.routes, task.caseSensitive),
    eventFilter: makeEventFilter(events.rules, events.caseSensitive),
    hasExpressionFilters: (schema, table) => expressionFiltersOf(instance.expressionFilters, schema, table).length > 0,
    timeZone: task.timezone,
  };
}

/** One connection's worth of reading: where it starts and what it hands its results to. */
export interface EventReaderRun {
  task: TaskConfig;
  sourceId: string;
  log: Logger;
  rules: ReadRules;
  batcher: Batcher;
  /** With `online-ddl`: the shadow tables' ALTERs waiting for their swap. */
  onlineDdl: OnlineDdl | undefined;
  /** What the operator decided for events this reader refused before (`binlog skip|replace`). */
  readOps: Map<string, BinlogOp>;
  /** Where the connection starts; undefined from a GTID, until the first rotate names the file. */
  start: BinlogCoord | undefined;
  /** Full mode: where reading stops. */
  endAt: BinlogCoord | undefined;
  /** With `enable-gtid`: the GTID set of every transaction before the start, tracked from there on. */
  gtidStart?: GtidSet;
  ledger: TransactionLedger;
  /** The migrated tables' definitions at the position read, loaded at `start`. */
  schemas: SchemaTracker;
  /** A DDL changed tracked definitions: tables are described afresh from their next tablemap. */
  schemaChanged(): void;
  figures: ReadFigures;
  /** Takes the batches cut, in binlog order. */
  emit(batches: ApplyBatch[]): void;
  fail(err: unknown): void;
  /** Whether the reader is failing: nothing read after a refused event counts. */
  halted(): boolean;
}

/**
 * Reads the events of one binlog connection: row events become batches, a commit closes the
 * transaction, a statement becomes DDL barriers, a skip with a record, or a refusal that pauses
 * the task at its position.
 */
export function createEventReader(run: EventReaderRun) {
  const { task, sourceId, log, rules, batcher, readOps, ledger, figures } = run;
  let file = run.start?.file ?? '';
  /** End of the last event read: where the next event starts. */
  let lastEnd = run.start?.pos ?? 4;
  const tables = createReadTables(task.name, sourceId, rules, run.schemas.get, run.fail);
  /** Where each shard last joined or left its merged table in this run (see planDdl). */
  const shardChanges = new Map<string, string>();

  /** Every transaction read so far, with GTID tracking; the open transaction's GTID and the set with it. */
  let executed = run.gtidStart;
  let open: { gtid: string; through: string } | undefined;

  const atEnd = () => run.endAt !== undefined && compareCoords({ file, pos: lastEnd }, run.endAt) >= 0;

  function handle(ev: BinlogEvent): void {
    const name = ev.getEventName();
    const here = (): BinlogCoord => ({ file, pos: ev.nextPosition });
    switch (name) {
      case 'rotate': {
        file = String(ev.binlogName);
        lastEnd = Number(ev.position);
        return;
      }
      case 'heartbeat': {
        figures.masterCoord = coordText({ file: String(ev.binlogName ?? file), pos: ev.nextPosition });
        return;
      }
      case 'mariadbgtid':
      case 'gtid':
      case 'anonymousgtid': {
        // The transaction starts where the previous event ended: a boundary the server accepts.
        const before = executed && formatGtidSet(executed);
        open = executed && ev.gtid ? { gtid: ev.gtid, through: formatGtidSet(addGtid(executed, ev.gtid)) } : undefined;
        ledger.begin({ file, pos: lastEnd }, ev.timestamp, before);
        return;
      }
      case 'tablemap': {
        tables.map(ev, here());
        return;
      }
      case 'writerows':
      case 'updaterows':
      case 'deleterows': {
        figures.totalEvents += 1;
        const table = tables.of(ev);
        if (!table) return;
        const op: RowOp = name === 'writerows' ? 'insert' : name === 'updaterows' ? 'update' : 'delete';
        if (!passesEventFilter(table, op, here())) return;
        const rows = tables.rows(ev, table, op);
        run.emit(
          batcher.rows({
            table,
            op,
            rows,
            coord: here(),
            eventTime: ev.timestamp,
            gtid: ev.gtid ?? null,
            ...(open ? { gtidSet: open.through } : {}),
          }),
        );
        figures.lastEventTime = ev.timestamp;
        figures.readCoord = coordText(here());
        return;
      }
      case 'xid':
      case 'query': {
        const statement = name === 'query' ? String(ev.query).trim() : 'COMMIT';
        const control = transactionControl(statement);
        // MySQL opens each transaction with a BEGIN query; savepoints live inside one.
        if (control === 'begin' || control === 'savepoint') return;
        // A commit, or a DDL (its own transaction), ends the transaction.
        run.emit(batcher.commit());
        if (control !== 'end') readStatement(statement, String(ev.schema ?? ''), here(), ev.timestamp, ev.gtid ?? null);
        if (run.halted()) return;
        if (executed && open) executed = addGtid(executed, open.gtid);
        open = undefined;
        ledger.commit(here(), executed && formatGtidSet(executed));
        figures.readCoord = coordText(here());
        return;
      }
      default:
        return;
    }
  }

  /** Stops reading at `coord` and pauses the task: the operator decides, with `binlog skip|replace`. */
  function refuse(code: 'DDL_UNSUPPORTED' | 'EVENT_FILTERED', reason: string, coord: string, statement?: string): void {
    const shown = statement === undefined ? '' : ` The statement: ${statement.length > 500 ? `${statement.slice(0, 500)}…` : statement}`;
    const binlogOps = `\`dmq binlog skip ${task.name} -b ${coord} -s ${sourceId}\` to leave it out${statement === undefined ? '' : `, or \`dmq binlog replace ${task.name} -b ${coord} -s ${sourceId} "<statements the source should have run>"\` to read those instead`}`;
    run.fail(
      new DmqError(code, `source "${sourceId}" at ${coord}: ${reason}.${shown}`, {
        where: coord,
        workaround:
          code === 'EVENT_FILTERED' ? `change the filter rule (stop-task, edit task.yaml, start-task), or ${binlogOps}` : binlogOps,
      }),
    );
  }

  function passesEventFilter(table: TableMeta, op: RowOp, coord: BinlogCoord): boolean {
    const at = coordText(coord);
    const decided = readOps.get(at)?.op;
    if (decided === 'skip') {
      log.info({ at, table: `${table.schema}.${table.table}`, op }, 'row event left out by the operator (binlog skip)');
      return false;
    }
    // Statements read before a row event would need a place in the table chains before its
    // batch, which only a statement's own position gives them.
    if (decided === 'inject') {
      run.fail(
        new DmqError('CONFIG_INVALID', `source "${sourceId}" at ${at}: binlog inject is set at a row event, not at a statement`, {
          where: at,
          workaround: `\`dmq binlog revert ${task.name} -b ${at} -s ${sourceId}\`, then \`dmq resume-task ${task.name}\`; inject DDL at the position of a statement (a DDL or a transaction's end), or fix the target by hand`,
        }),
      );
      return false;
    }
    // The filter caches which rules apply to a table; judging them is a few comparisons.
    const verdict = rules.eventFilter({ schema: table.schema, table: table.table, event: op });
    if (verdict.action === 'Error')
      refuse('EVENT_FILTERED', `filter rule "${verdict.rule}" forbids ${op} on \`${table.schema}\`.\`${table.table}\``, at);
    return verdict.action === 'Do';
  }

  /**
   * A statement other than a transaction's begin or end: DDL to replicate, DDL to skip with a
   * record, or a statement dmq cannot handle, which pauses the task at its position.
   */
  function readStatement(statement: string, defaultSchema: string, coord: BinlogCoord, eventTime: number, gtid: string | null): void {
    const at = coordText(coord);
    trackSchemas(statement, defaultSchema, coord);
    const op = readOps.get(at);
    if (op?.op === 'skip') {
      log.info({ at, statement: statement.slice(0, 500) }, 'statement left out by the operator (binlog skip)');
      return;
    }
    const texts = op?.op === 'replace' ? op.sqls : op?.op === 'inject' ? [...op.sqls, statement] : [statement];
    // Statements of one event share its position; parts keep them in order within a table.
    let part = 0;
    const nextCoord = (): BinlogCoord => {
      const next = part === 0 ? coord : { ...coord, part };
      part += 1;
      return next;
    };
    for (const text of texts) {
      const reading = readDdl(text, defaultSchema);
      if (reading.type === 'skip') {
        log.info({ at, statement: text.slice(0, 500), reason: reading.reason }, 'DDL skipped: not about data');
        continue;
      }
      if (reading.type === 'unreadable') {
        const online = reading.about && run.onlineDdl?.unreadable(reading.about, nextCoord());
        if (online) {
          log.info({ at, statement: text.slice(0, 500), reason: online.reason }, 'DDL skipped: online schema change');
          continue;
        }
        refuse('DDL_UNSUPPORTED', `dmq cannot read this statement (${reading.reason})`, at, text);
        return;
      }
      for (const piece of reading.statements) {
        const pieceCoord = nextCoord();
        const online = run.onlineDdl?.read(piece, pieceCoord) ?? { action: 'apply', statements: [piece] };
        if (online.action === 'skip') {
          log.info({ at, statement: piece.text.slice(0, 500), reason: online.reason }, 'DDL skipped: online schema change');
          continue;
        }
        if (online.action === 'refuse') {
          refuse('DDL_UNSUPPORTED', online.reason, at, piece.text);
          return;
        }
        for (const [i, ddl] of online.statements.entries()) {
          const ddlCoord = i === 0 ? pieceCoord : nextCoord();
          const plan = planDdl(ddl, coordText(ddlCoord), {
            filter: rules.filter,
            route: rules.route,
            eventFilter: rules.eventFilter,
            shardMode: task.shardMode,
            waitsOf: batcher.waitsOf,
            streams: batcher.streams,
            lastShardChange: (schema, table) => shardChanges.get(tableKey(schema, table)),
          });
          if (plan.action === 'skip') {
            log.info({ at, statement: ddl.text.slice(0, 500), reason: plan.reason }, 'DDL skipped');
            continue;
          }
          if (plan.action === 'refuse') {
            refuse(plan.code, plan.reason, at, ddl.text);
            return;
          }
          run.emit(batcher.ddl({ barriers: plan.barriers, coord: ddlCoord, eventTime, gtid, ...(open ? { gtidSet: open.through } : {}) }));
          for (const b of plan.barriers)
            if (b.ddl.shard === 'join' || b.ddl.shard === 'leave')
              shardChanges.set(tableKey(b.table.schema, b.table.table), coordText(ddlCoord));
          log.info({ at, statement: ddl.text.slice(0, 500), target: plan.barriers[0]!.ddl.target }, 'DDL read');
        }
      }
    }
  }

  /**
   * The schema tracker follows what the source ran, whatever the operator decided for the target
   * (`binlog skip|replace`): it describes the rows the source logs after the statement.
   */
  function trackSchemas(statement: string, defaultSchema: string, coord: BinlogCoord): void {
    const reading = readDdl(statement, defaultSchema);
    if (reading.type !== 'ddl') return;
    let changed = false;
    for (const ddl of reading.statements) {
      const result = run.schemas.apply(ddl, coord, run.fail);
      changed ||= result.changed;
      if (result.unfollowed !== undefined)
        log.warn(
          { at: coordText(coord), statement: ddl.text.slice(0, 500), reason: result.unfollowed },
          'schema tracker: cannot follow this DDL; the table is untracked until `binlog-schema update` sets it',
        );
    }
    if (!changed) return;
    tables.changed();
    run.schemaChanged();
  }

  return {
    /** Full mode: whether reading has reached the copy's high watermark. */
    atEnd,
    /** One event of this connection, in binlog order. */
    read(ev: BinlogEvent): void {
      // Full mode reads nothing the copy's high watermark does not cover.
      if (atEnd()) return;
      handle(ev);
      // A refused event stops the reader where it is: nothing after it counts as read.
      if (run.halted()) return;
      if (ev.nextPosition > 0 && ev.getEventName() !== 'heartbeat') {
        lastEnd = ev.nextPosition;
        if (file !== '') ledger.passed({ file, pos: ev.nextPosition });
      }
    },
  };
}

export type EventReader = ReturnType<typeof createEventReader>;
