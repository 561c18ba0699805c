import type { RowDataPacket } from 'mysql2/promise';
import { coordText, type BinlogCoord } from '../../shared/binlog/position.js';
import {
  createStartScan,
  lastFileStartingBefore,
  parseStartTime,
  START_TIME_FORMATS,
  type StartTime,
} from '../../shared/binlog/start-time.js';
import type { SourceConfig, TaskConfig } from '../../shared/config/types.js';
import { DmqError } from '../../shared/errors.js';
import { readBinlogPosition } from '../../shared/sql/binlog-status.js';
import { withConnection, type Queryable } from '../../shared/sql/connect.js';
import { SOURCE_SESSION } from '../../shared/sql/pools.js';
import type { ServiceContext } from '../../shared/task/context.js';
import { requireRegisteredSources } from '../../shared/task/control.js';
import { createBinlogStream, readerServerId, startBinlogStream, stopBinlogStream, type BinlogEvent } from './binlog-stream.js';

/** Every event between two transactions, and the ones that open them; rows and table maps are not decoded. */
const SCANNED_EVENTS = [
  'format',
  'previousgtids',
  'mariadbgtidlist',
  'binlogcheckpoint',
  'gtid',
  'anonymousgtid',
  'mariadbgtid',
  'query',
  'xid',
  'rotate',
];

/**
 * `start-task --start-time`: the task with each instance's `meta` set to the first transaction
 * its source wrote at or after that time. The task must be incremental, as DM's start-time is
 * about replication only.
 */
export async function taskStartingAt(ctx: ServiceContext, task: TaskConfig, text: string): Promise<TaskConfig> {
  const at = parseStartTime(text);
  if (!at) {
    throw new DmqError('CONFIG_INVALID', `start-time "${text}" is not a time dmq can read`, {
      where: 'start-time',
      workaround: `write it as ${START_TIME_FORMATS}; without an offset it is the source's time zone`,
    });
  }
  if (task.taskMode !== 'incremental') {
    throw new DmqError(
      'CONFIG_INVALID',
      `start-time "${text}" starts replication, but task "${task.name}" has task-mode ${task.taskMode}`,
      {
        where: 'task-mode',
        workaround: 'set task-mode: incremental in task.yaml (the target then needs the data as of that time already)',
      },
    );
  }
  await requireRegisteredSources(ctx, task);
  const instances = [];
  for (const instance of task.instances) {
    const source = (await ctx.registry.getSource(instance.sourceId))!;
    const coord = await firstPositionAt(source, readerServerId(`${task.name}#start-time`, source.sourceId), at, text);
    ctx.log.info({ task: task.name, source: source.sourceId, startTime: text, at: coordText(coord) }, 'start-time found in the binlog');
    instances.push({ ...instance, startPosition: { binlogName: coord.file, binlogPos: coord.pos } });
  }
  return { ...task, instances };
}

interface BinlogFile {
  name: string;
  size: number;
}

/** The source's view of the time (seconds since the epoch), of now, its binlog files and where the binlog ends. */
async function sourceFacts(conn: Queryable, at: StartTime) {
  // The session runs in UTC; DM reads a time without an offset in the source's own zone.
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT UNIX_TIMESTAMP(CONVERT_TZ(?, @@GLOBAL.time_zone, '+00:00')) AS at, UNIX_TIMESTAMP() AS now, @@GLOBAL.time_zone AS zone",
    [at.kind === 'wall-clock' ? at.text : '1970-01-01 00:00:00'],
  );
  const row = rows[0]!;
  const [logs] = await conn.query<RowDataPacket[]>('SHOW BINARY LOGS');
  return {
    at: at.kind === 'absolute' ? at.epochSeconds : row.at === null ? null : Number(row.at),
    now: Number(row.now),
    zone: String(row.zone),
    files: logs.map((r): BinlogFile => ({ name: String(r.Log_name), size: Number(r.File_size) })),
    end: await readBinlogPosition(conn),
  };
}

async function firstPositionAt(source: SourceConfig, serverId: number, startTime: StartTime, text: string): Promise<BinlogCoord> {
  const label = `source "${source.sourceId}"`;
  const facts = await withConnection(source.from, { label, role: 'source', session: SOURCE_SESSION }, (conn) =>
    sourceFacts(conn, startTime),
  );
  const where = 'start-time';
  if (facts.at === null) {
    throw new DmqError('CONFIG_INVALID', `start-time "${text}": ${label} cannot read it in its time zone ${facts.zone}`, {
      where,
      workaround: `check the date, or give the offset: ${START_TIME_FORMATS}`,
    });
  }
  if (!facts.end || facts.files.length === 0) {
    throw new DmqError('CONFIG_INVALID', `start-time "${text}": ${label} has binary logging off`, {
      where,
      workaround: 'enable log_bin with binlog_format=ROW on the source',
    });
  }
  if (facts.at > facts.now) {
    throw new DmqError('CONFIG_INVALID', `start-time "${text}" is in the future on ${label} (its clock reads ${isoTime(facts.now)})`, {
      where,
      workaround: 'give a time in the past; without an offset the time is read in the source time zone',
    });
  }
  const at = facts.at;
  const firstTimes = new Map<number, number>();
  const firstEventTime = async (i: number) => {
    const known = firstTimes.get(i);
    if (known !== undefined) return known;
    const time = await readFirstEventTime(source, serverId, facts.files[i]!.name);
    firstTimes.set(i, time);
    return time;
  };
  const index = await lastFileStartingBefore(facts.files.length, at, firstEventTime);
  if (index < 0) {
    const oldest = facts.files[0]!;
    const oldestTime = await firstEventTime(0);
    if (oldestTime === at) return { file: oldest.name, pos: 4 };
    throw new DmqError(
      'CONFIG_INVALID',
      `start-time "${text}" (${isoTime(at)}) is before the oldest binlog of ${label}: ${oldest.name} starts at ${isoTime(oldestTime)}; the binlog of that time is purged. Files available: ${facts.files.map((f) => f.name).join(', ')}`,
      {
        where,
        workaround: `start at or after ${isoTime(oldestTime)}, or copy the data again with task-mode: all; keep binlogs longer (expire_logs_days, binlog_expire_logs_seconds, or on Aurora/RDS \`CALL mysql.rds_set_configuration('binlog retention hours', …)\`)`,
      },
    );
  }
  const file = facts.files[index]!;
  const last = index === facts.files.length - 1;
  const found = await scanFile(source, serverId, file.name, last ? facts.end.pos : file.size, at);
  if (found) return found;
  // Nothing in that file is as late: the next transaction written after it is.
  return last ? { file: facts.end.file, pos: facts.end.pos } : { file: facts.files[index + 1]!.name, pos: 4 };
}

const isoTime = (seconds: number) => `${new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19)} UTC`;

/** When a binlog file was opened: the time of its format description event, its first. */
function readFirstEventTime(source: SourceConfig, serverId: number, file: string): Promise<number> {
  let time = 0;
  return readBinlog(source, serverId, file, ['format'], (ev) => {
    time = ev.timestamp / 1000;
    return true;
  }).then(() => time);
}

/** The scan of one file up to `end` (the file's size, or the binlog's end for the last file). */
async function scanFile(source: SourceConfig, serverId: number, file: string, end: number, at: number): Promise<BinlogCoord | undefined> {
  const scan = createStartScan(file, at);
  let found: BinlogCoord | undefined;
  await readBinlog(source, serverId, file, SCANNED_EVENTS, (ev) => {
    if (ev.getEventName() === 'rotate') return String(ev.binlogName) !== file;
    found = scan.see({
      name: ev.getEventName(),
      timestamp: ev.timestamp,
      nextPosition: ev.nextPosition,
      query: ev.query as string | undefined,
    });
    return found !== undefined || ev.nextPosition >= end;
  });
  return found;
}

/** Streams `file` from its start through `onEvent` until it answers true (done). */
async function readBinlog(
  source: SourceConfig,
  serverId: number,
  file: string,
  events: string[],
  onEvent: (ev: BinlogEvent) => boolean,
): Promise<void> {
  const z = createBinlogStream(source);
  try {
    await new Promise<void>((resolve, reject) => {
      let done = false;
      z.on('binlog', (ev: unknown) => {
        if (done) return;
        try {
          done = onEvent(ev as BinlogEvent);
        } catch (err) {
          done = true;
          reject(err);
        }
        if (done) resolve();
      });
      z.on('error', (err: unknown) => {
        if (done) return;
        done = true;
        reject(
          new DmqError('BINLOG_FAILED', `source "${source.sourceId}" cannot serve binlog ${file}: ${(err as Error).message}`, {
            cause: err,
            where: `${file}:4`,
            workaround: 'check that the file is still listed by SHOW BINARY LOGS and that the user has REPLICATION SLAVE',
          }),
        );
      });
      startBinlogStream(z, serverId, { coord: { file, pos: 4 } }, events);
    });
  } finally {
    await stopBinlogStream(z);
  }
}
