import type { CheckError } from '../../shared/task/precheck-result.js';
import { warn, type Finding } from './check.js';

/** How long a source keeps its binlogs, as read from it (`server.ts`). */
export interface RetentionFacts {
  /** Aurora's release (`aurora_version()`), when the server is Aurora. */
  aurora?: AuroraRelease;
  /**
   * Aurora and RDS: `binlog retention hours` from `mysql.rds_show_configuration` (null: not set,
   * binlogs are purged as soon as no replica holds them), or why it could not be read.
   * Undefined on other servers.
   */
  rds?: { hours: number | null } | { unreadable: string };
  /** `expire_logs_days` (MySQL 5.7/8, MariaDB); absent when the server lacks the variable. */
  expireLogsDays?: number;
  /** `binlog_expire_logs_seconds` (MySQL 8, MariaDB 10.6+). */
  binlogExpireLogsSeconds?: number;
}

export interface AuroraRelease {
  text: string;
  major: number;
  minor: number;
  patch: number;
  /** The MySQL release it is compatible with: Aurora 1 is 5.6, 2 is 5.7, 3 is 8.0. */
  mysql: string;
}

/** An Aurora release as `aurora_version()` gives it (`3.04.0`), or the engine version (`8.0.mysql_aurora.3.04.0`). */
export function parseAuroraRelease(text: string): AuroraRelease | undefined {
  const match = /(\d+)\.(\d+)\.(\d+)\s*$/.exec(text.trim());
  if (!match) return undefined;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const mysql = ({ 1: '5.6', 2: '5.7', 3: '8.0' } as Record<number, string>)[major] ?? 'unknown';
  return { text: `${major}.${String(minor).padStart(2, '0')}.${patch}`, major, minor, patch, mysql };
}

/**
 * What the copy is expected to move per second. dmq's own benchmark on a 2-core machine copied
 * 1M sysbench rows at about 15 MiB/s, and DM publishes 14–24 MB/s for its load: a conservative
 * figure, because an underestimate costs a purged binlog and a copy started again.
 */
const COPY_BYTES_PER_SECOND = 10 * 1024 * 1024;

export function expectedCopyHours(bytes: number): number {
  return bytes / COPY_BYTES_PER_SECOND / 3600;
}

/**
 * Hours of binlog the task needs kept: the copy's (the reader starts where the copy started)
 * plus a day, to resume a task paused overnight or behind after an outage.
 */
export function neededRetentionHours(copyHours: number): number {
  return Math.ceil(copyHours) + 24;
}

/** The most `binlog retention hours` takes: 90 days on Aurora MySQL 3, 7 days on Aurora 2 and RDS. */
function rdsMaxHours(aurora: AuroraRelease | undefined): number {
  return aurora && aurora.major >= 3 ? 2160 : 168;
}

const hoursText = (hours: number) => (hours < 10 ? hours.toFixed(1) : String(Math.round(hours)));

/**
 * Whether the source keeps its binlog long enough for this task: the copy of `copyBytes`
 * (0 for an incremental task) and a day more. Only warnings: a short retention may still be
 * enough when the copy is fast.
 */
export function retentionFinding(facts: RetentionFacts, copyBytes: number): Finding {
  const copyHours = expectedCopyHours(copyBytes);
  const needed = neededRetentionHours(copyHours);
  const why =
    copyBytes > 0
      ? `the copy of ${(copyBytes / 2 ** 30).toFixed(1)} GiB is expected to take about ${hoursText(copyHours)} hours, and a paused task needs a day to resume, so dmq needs ${needed} hours of binlog`
      : `a paused task needs a day of binlog to resume, so dmq needs ${needed} hours`;
  const server = facts.aurora ? `Aurora ${facts.aurora.text}` : 'this RDS server';
  if (facts.rds && 'unreadable' in facts.rds) {
    return {
      errors: [warn(`could not read binlog retention hours (${facts.rds.unreadable}); ${why}`)],
      instruction: `check it with CALL mysql.rds_show_configuration; set it with CALL mysql.rds_set_configuration('binlog retention hours', ${Math.min(needed, rdsMaxHours(facts.aurora))})`,
    };
  }
  if (facts.rds) {
    const { hours } = facts.rds;
    if (hours !== null && hours >= needed) return { errors: [], extra: `binlog retention hours is ${hours}` };
    const max = rdsMaxHours(facts.aurora);
    const set = Math.min(needed, max);
    const error: CheckError =
      hours === null
        ? warn(`binlog retention hours is not set (NULL): ${server} purges each binlog as soon as no replica holds it, and ${why}`)
        : warn(`binlog retention hours is ${hours}: ${server} purges binlogs older than that, and ${why}`);
    return {
      errors: [error],
      instruction: `CALL mysql.rds_set_configuration('binlog retention hours', ${set});${needed > max ? ` (${max} is the most ${server} keeps: copy in parts, e.g. schema by schema)` : ''} Aurora also keeps binlogs for that long only with binlog_format set in the DB cluster parameter group`,
    };
  }
  const seconds = effectiveExpirySeconds(facts);
  if (seconds === 0)
    return { errors: [], extra: 'binlogs are not purged automatically (expire_logs_days and binlog_expire_logs_seconds are 0)' };
  if (seconds >= needed * 3600) return { errors: [], extra: `binlogs are purged after ${hoursText(seconds / 3600)} hours` };
  const setting =
    facts.binlogExpireLogsSeconds !== undefined
      ? `SET GLOBAL binlog_expire_logs_seconds = ${needed * 3600}`
      : `SET GLOBAL expire_logs_days = ${Math.ceil(needed / 24)}`;
  return {
    errors: [warn(`binlogs are purged after ${hoursText(seconds / 3600)} hours (${expirySettings(facts)}), and ${why}`)],
    instruction: `${setting}, and the same in the server's config file so that a restart keeps it`,
  };
}

/** MySQL 8 and MariaDB 10.6+ go by the seconds when they are set, else by the days; 0 and 0 mean never. */
function effectiveExpirySeconds(facts: RetentionFacts): number {
  if ((facts.binlogExpireLogsSeconds ?? 0) > 0) return facts.binlogExpireLogsSeconds!;
  return (facts.expireLogsDays ?? 0) * 86400;
}

function expirySettings(facts: RetentionFacts): string {
  const parts: string[] = [];
  if (facts.binlogExpireLogsSeconds !== undefined) parts.push(`binlog_expire_logs_seconds=${facts.binlogExpireLogsSeconds}`);
  if (facts.expireLogsDays !== undefined) parts.push(`expire_logs_days=${facts.expireLogsDays}`);
  return parts.join(', ');
}
