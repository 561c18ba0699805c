import { DM_ERRORS, dmWords } from '../errors.js';

/**
 * The task's `timezone`, as DM reads it: an IANA name (`Asia/Shanghai`) or a UTC offset
 * (`+08:00`) within MySQL's range. Every dmq session on the task's servers runs in it, so a
 * TIMESTAMP travels as the same wall-clock text at both ends, and a `DEFAULT CURRENT_TIMESTAMP`
 * that exists only on the target is filled in that zone, as DM fills it.
 */

const OFFSET = /^([+-])(\d{1,2}):(\d{2})$/;

/** Minutes east of UTC for an offset zone; undefined for a named one. */
function offsetMinutes(zone: string): number | undefined {
  const match = OFFSET.exec(zone);
  if (!match) return undefined;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/** Why `zone` is not a time zone DM accepts, or undefined when it is one. */
export function timeZoneProblem(zone: string): string | undefined {
  const wording = `${dmWords(DM_ERRORS.invalidTimezone)}: ${JSON.stringify(zone)}`;
  if (zone === 'SYSTEM' || zone === 'Local') {
    return `${wording}; 'SYSTEM' or 'Local' is not supported: the servers' zones may differ, so name the zone, such as "+08:00" or "Asia/Shanghai"`;
  }
  const offset = offsetMinutes(zone);
  if (offset !== undefined) {
    const minutes = Number(OFFSET.exec(zone)![3]);
    if (minutes >= 60 || offset < -(12 * 60 + 59) || offset > 14 * 60) return `${wording}; an offset must be within -12:59 and +14:00`;
    return undefined;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `${wording}; expected an offset such as "+08:00" or a time zone name such as "Asia/Shanghai"`;
  }
}

const UTC_TEXT = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?$/;

/** A number as two digits at least, as clock and date fields are written. */
export const two = (n: number) => String(n).padStart(2, '0');

/**
 * A TIMESTAMP the binlog gave as UTC text, as wall-clock text in `zone`. The zero timestamp has
 * no instant and stays as it is.
 */
export function utcTimestampIn(zone: string, utc: string): string {
  const match = UTC_TEXT.exec(utc);
  if (!match || match[1] === '0000') return utc;
  const [, y, mo, d, h, mi, s, fraction = ''] = match;
  const instant = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const offset = offsetMinutes(zone);
  if (offset !== undefined) return `${wallClock(new Date(instant + offset * 60_000))}${fraction}`;
  return `${zonedWallClock(zone, instant)}${fraction}`;
}

function wallClock(date: Date): string {
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function zonedWallClock(zone: string, instant: number): string {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formats.set(zone, format);
  }
  const part = Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second}`;
}
