import type { BinlogCoord } from './position.js';

/**
 * `start-task --start-time`, read as DM reads it: a wall-clock time in the source's time zone,
 * or an absolute time when it carries an offset.
 */
export type StartTime = { kind: 'wall-clock'; text: string } | { kind: 'absolute'; epochSeconds: number };

export const START_TIME_FORMATS = "'2026-12-07 10:00:00', '2026-12-07T10:00:00' or '2026-12-07T10:00:00+08:00'";

const START_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(Z|[+-]\d{2}:\d{2})?$/;

/** The start time, or undefined when the text is in none of DM's formats. */
export function parseStartTime(text: string): StartTime | undefined {
  const match = START_TIME.exec(text.trim());
  if (!match) return undefined;
  const [, date, time, offset] = match;
  if (offset === undefined) return { kind: 'wall-clock', text: `${date} ${time}` };
  const ms = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(ms) ? undefined : { kind: 'absolute', epochSeconds: ms / 1000 };
}

/**
 * The index of the last binlog file whose first event is before `at` (seconds), or -1 when the
 * oldest file starts at or after it. A file that starts at `at` itself may follow transactions
 * of that same second, so the scan begins in the file before it. Files are in binlog order, so
 * their first events' times rise: a binary search asks `firstEventTime` for about log2(files).
 */
export async function lastFileStartingBefore(
  files: number,
  at: number,
  firstEventTime: (index: number) => Promise<number>,
): Promise<number> {
  let low = 0;
  let high = files - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if ((await firstEventTime(mid)) < at) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}

/** The part of a binlog event the scan looks at: its name, time (ms, as zongji gives it), end and statement. */
export interface ScannedEvent {
  name: string;
  timestamp: number;
  nextPosition: number;
  query?: string;
}

const GTID_EVENTS = new Set(['gtid', 'anonymousgtid', 'mariadbgtid']);

/**
 * Scans one binlog file from its start for the first transaction written at or after `at`
 * (seconds): where it starts is where replication from that time begins. Events inside
 * transactions (table maps, rows) need not be shown; every event between two transactions must
 * be, since a transaction starts where the event before it ended.
 */
export function createStartScan(file: string, at: number) {
  let lastEnd = 4;
  let inTransaction = false;
  return {
    /** The coordinate to start from once this event shows it, else undefined. */
    see(ev: ScannedEvent): BinlogCoord | undefined {
      // A GTID event opens a transaction; without GTIDs (MySQL 5.6) a BEGIN or a DDL query does.
      const opens = GTID_EVENTS.has(ev.name) || (ev.name === 'query' && !inTransaction);
      if (opens && ev.timestamp / 1000 >= at) return { file, pos: lastEnd };
      if (opens) inTransaction = ev.name !== 'query' || isBegin(ev.query);
      // In a row-format binlog the only statement inside a transaction is its BEGIN; a DDL or a
      // COMMIT query ends it, as an XID does.
      else if (ev.name === 'xid' || (ev.name === 'query' && !isBegin(ev.query))) inTransaction = false;
      if (ev.nextPosition > 0) lastEnd = ev.nextPosition;
      return undefined;
    },
  };
}

const isBegin = (query: string | undefined) => /^\s*BEGIN\b/i.test(query ?? '');
